<?php
// Subscribe, send, readFrame (StompFrame, custom class, arrays), hasFrame, timeouts, misuse.
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

// procedural
$l = stomp_connect($GLOBALS['URL'], 'guest', 'guest');
stomp_set_read_timeout($l, 1);
$ptopic = dest('topic', 'proc');
t('proc subscribe', fn () => stomp_subscribe($l, $ptopic, ['receipt' => 'r-psub']));
t('proc send', fn () => stomp_send($l, $ptopic, 'proc body', ['x' => 'y']));
t('proc send empty', fn () => stomp_send($l, $ptopic, ''));
t('proc send frame', fn () => stomp_send($l, $ptopic, new StompFrame('SEND', [], 'pf')));
t('proc has', fn () => stomp_has_frame($l));
t('proc read array', fn () => stomp_read_frame($l));
t('proc read array empty body', fn () => stomp_read_frame($l));
t('proc read class', fn () => stomp_read_frame($l, 'MyFrame'));
t('proc read timeout', fn () => stomp_read_frame($l));
t('proc bad msg', fn () => stomp_send($l, $ptopic, 1));
t('proc unsubscribe', fn () => stomp_unsubscribe($l, $ptopic));
t('proc close', fn () => stomp_close($l));
