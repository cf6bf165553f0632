--TEST--
stomp: StompFrame constructor quirks and StompException without a broker
--SKIPIF--
<?php if (!extension_loaded('stomp')) die('skip stomp extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

t('frame empty', fn () => new StompFrame());
t('frame full', fn () => new StompFrame('SEND', ['a' => 'b'], 'body'));
t('frame empty body', fn () => new StompFrame('SEND', ['a' => 'b'], ''));
t('frame empty command', fn () => new StompFrame('', null, 'x'));
t('frame var_dump', function () {
    ob_start();
    var_dump(new StompFrame('SEND', ['a' => 1], 'x'));
    return ob_get_clean();
});
t('frame props writable', function () {
    $f = new StompFrame('SEND');
    $f->headers['x'] = 'y';
    $f->body = 'b';
    return $f;
});
t('exception details default', fn () => (new StompException('m'))->getDetails());
t('exception thrown by user', function () {
    throw new StompException('user', 3);
});
?>
--EXPECT--
== frame empty
  return array (
  'class' => 'StompFrame',
  'command' => NULL,
  'headers' => NULL,
  'body' => NULL,
)
== frame full
  return array (
  'class' => 'StompFrame',
  'command' => 'SEND',
  'headers' =>
  array (
    'a' => 'b',
  ),
  'body' => 'body',
)
== frame empty body
  return array (
  'class' => 'StompFrame',
  'command' => 'SEND',
  'headers' =>
  array (
    'a' => 'b',
  ),
  'body' => NULL,
)
== frame empty command
  return array (
  'class' => 'StompFrame',
  'command' => NULL,
  'headers' => NULL,
  'body' => 'x',
)
== frame var_dump
  return 'object(StompFrame)#3 (3) {
  ["command"]=>
  string(4) "SEND"
  ["headers"]=>
  array(1) {
    ["a"]=>
    int(1)
  }
  ["body"]=>
  string(1) "x"
}
'
== frame props writable
  return array (
  'class' => 'StompFrame',
  'command' => 'SEND',
  'headers' =>
  array (
    'x' => 'y',
  ),
  'body' => 'b',
)
== exception details default
  return ''
== exception thrown by user
  throw StompException: 'user' code=3 details=''
