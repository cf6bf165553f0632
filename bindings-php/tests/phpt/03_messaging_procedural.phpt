--TEST--
stomp_subscribe, stomp_send, stomp_has_frame, stomp_read_frame (arrays, custom class), stomp_unsubscribe
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
?>
--EXPECT--
== proc subscribe
  return true
== proc send
  return true
== proc send empty
  return true
== proc send frame
  return true
== proc has
  return true
== proc read array
  return array (
  'command' => 'MESSAGE',
  'body' => 'proc body',
  'headers' =>
  array (
    'content-length' => '9',
    'destination' => '/topic/<prefix>.proc',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.proc',
    'x' => 'y',
  ),
)
== proc read array empty body
  return array (
  'command' => 'MESSAGE',
  'body' => '',
  'headers' =>
  array (
    'content-length' => '0',
    'destination' => '/topic/<prefix>.proc',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.proc',
  ),
)
== proc read class
  return array (
  'class' => 'MyFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '2',
    'destination' => '/topic/<prefix>.proc',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.proc',
  ),
  'body' => 'pf',
  'extra' => 'built:MESSAGE',
)
== proc read timeout
  return false
== proc bad msg
  warning E2: stomp_send(): Expects parameter 3 to be a string or a StompFrame object.
  return false
== proc unsubscribe
  return true
== proc close
  return true
