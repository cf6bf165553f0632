--TEST--
Stomp: subscribe, send, readFrame (StompFrame, custom classes), hasFrame, timeouts, misuse, unsubscribe
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

class MyFrame extends StompFrame
{
    public $extra;

    public function __construct($command = '', $headers = [], $body = '')
    {
        parent::__construct($command, $headers, $body);
        $this->extra = 'built:' . $command;
    }
}

class Plain
{
    public $command;
    public $headers;
    public $body;

    public function __construct($c, $h, $b)
    {
        $this->command = $c;
        $this->headers = $h;
        $this->body = $b;
    }
}

$topic = dest('topic', 'msg');
$sub = connect();
$pub = connect();
t('subscribe', fn () => $sub->subscribe($topic));
t('subscribe receipt', fn () => $sub->subscribe(dest('topic', 'other'), ['receipt' => 'r-sub']));
t('send plain', fn () => $pub->send($topic, 'hello'));
t('send headers', fn () => $pub->send($topic, 'with headers', ['x-int' => 5, 'x-true' => true, 'x-false' => false,
    'x-null' => null, 'content-length' => 99, 'x-colon' => 'a:b']));
t('send binary', fn () => $pub->send($topic, "A test Message\0Foo"));
t('send empty body', fn () => $pub->send($topic, ''));
t('send frame object', fn () => $pub->send($topic, new StompFrame('SEND', ['x-frame' => 'yes'], 'framed')));
t('send frame object destination header', fn () => $pub->send('/topic/ignored', new StompFrame('SEND', ['destination' => 'nope'], 'framed2')));
t('send user destination wins', fn () => $pub->send('/topic/' . $GLOBALS['PREFIX'] . '.nowhere', 'routed', ['destination' => $topic]));
t('send receipt', fn () => $pub->send($topic, 'receipted', ['receipt' => 'r-1']));
t('hasFrame', fn () => $sub->hasFrame());
t('readFrame', fn () => $sub->readFrame());
t('readFrame custom subclass', fn () => $sub->readFrame('MyFrame'));
t('readFrame custom plain class', fn () => $sub->readFrame('Plain'));
drain($sub, 'rest');
t('hasFrame when empty', fn () => $sub->hasFrame());
t('readFrame timeout', function () use ($sub) {
    $sub->setReadTimeout(0, 300000);
    return [$sub->getReadTimeout(), $sub->readFrame()];
});
t('setReadTimeout returns', fn () => $sub->setReadTimeout(1));

// misuse
t('send empty destination', fn () => $pub->send('', 'x'));
t('send bad msg', fn () => $pub->send($topic, 42));
t('send bad msg array', fn () => $pub->send($topic, ['x']));
t('send numeric header keys', fn () => $pub->send($topic, 'numeric', ['a', 'x-after' => 'b']));
t('send headers not array', fn () => $pub->send($topic, 'x', 'nope'));
t('subscribe empty', fn () => $pub->subscribe(''));
t('unsubscribe empty', fn () => $pub->unsubscribe(''));
t('ack bad msg', fn () => $pub->ack(3.5));
drain($sub, 'after misuse');

// unsubscribe
t('unsubscribe', fn () => $sub->unsubscribe($topic, ['receipt' => 'r-unsub']));
t('send after unsubscribe', fn () => $pub->send($topic, 'unseen'));
t('nothing after unsubscribe', fn () => $sub->readFrame());
?>
--EXPECT--
== subscribe
  return true
== subscribe receipt
  return true
== send plain
  return true
== send headers
  return true
== send binary
  return true
== send empty body
  return true
== send frame object
  return true
== send frame object destination header
  return true
== send user destination wins
  return true
== send receipt
  return true
== hasFrame
  return true
== readFrame
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '5',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => 'hello',
)
== readFrame custom subclass
  return array (
  'class' => 'MyFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '12',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
    'x-colon' => 'a:b',
    'x-false' => '',
    'x-int' => '5',
    'x-null' => '',
    'x-true' => '1',
  ),
  'body' => 'with headers',
  'extra' => 'built:MESSAGE',
)
== readFrame custom plain class
  return array (
  'class' => 'Plain',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '18',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => 'A test Message' . "\0" . 'Foo',
)
== rest #0
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '0',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => NULL,
)
== rest #1
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '6',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
    'x-frame' => 'yes',
  ),
  'body' => 'framed',
)
== rest #2
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '6',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => 'routed',
)
== rest #3
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '9',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => 'receipted',
)
== rest #4
  return false
== hasFrame when empty
  return false
== readFrame timeout
  return array (
  0 =>
  array (
    'sec' => 0,
    'usec' => 300000,
  ),
  1 => false,
)
== setReadTimeout returns
  return NULL
== send empty destination
  warning E2: Stomp::send(): Destination can not be empty
  return false
== send bad msg
  warning E2: Stomp::send(): Expects parameter 2 to be a string or a StompFrame object.
  return false
== send bad msg array
  warning E2: Stomp::send(): Expects parameter 2 to be a string or a StompFrame object.
  return false
== send numeric header keys
  warning E2: Stomp::send(): Invalid argument or parameter array
  return true
== send headers not array
  throw TypeError: 'Stomp::send(): Argument #3 ($headers) must be of type ?array, string given' code=0
== subscribe empty
  warning E2: Stomp::subscribe(): Destination can not be empty
  return false
== unsubscribe empty
  warning E2: Stomp::unsubscribe(): Destination can not be empty
  return false
== ack bad msg
  warning E2: Stomp::ack(): Expects parameter 2 to be a string or a StompFrame object.
  return false
== after misuse #0
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '7',
    'destination' => '/topic/<prefix>.msg',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.msg',
  ),
  'body' => 'numeric',
)
== after misuse #1
  return false
== unsubscribe
  return true
== send after unsubscribe
  return true
== nothing after unsubscribe
  return false
