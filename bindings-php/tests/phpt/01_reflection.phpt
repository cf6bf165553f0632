--TEST--
stomp: functions, Stomp methods and classes by reflection (names, arity)
--SKIPIF--
<?php if (!extension_loaded('stomp')) die('skip stomp extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

t('functions', function () {
    $names = [];
    foreach (['stomp_version', 'stomp_connect', 'stomp_connect_error', 'stomp_get_session_id', 'stomp_close',
        'stomp_send', 'stomp_subscribe', 'stomp_has_frame', 'stomp_read_frame', 'stomp_unsubscribe', 'stomp_begin',
        'stomp_commit', 'stomp_abort', 'stomp_ack', 'stomp_nack', 'stomp_error', 'stomp_set_read_timeout',
        'stomp_get_read_timeout'] as $f) {
        $r = new ReflectionFunction($f);
        $names[$f] = [$r->getNumberOfParameters(), $r->getNumberOfRequiredParameters(),
            array_map(fn ($p) => $p->getName(), $r->getParameters())];
    }
    return $names;
});
t('Stomp methods', function () {
    $out = [];
    foreach ((new ReflectionClass('Stomp'))->getMethods() as $m) {
        $out[$m->getName()] = [$m->getNumberOfParameters(), $m->getNumberOfRequiredParameters(),
            array_map(fn ($p) => $p->getName(), $m->getParameters())];
    }
    ksort($out); // ours lists __construct last (README: differences)
    return $out;
});
t('classes', fn () => [class_exists('Stomp'), class_exists('StompFrame'), class_exists('StompException'),
    is_subclass_of('StompException', 'Exception'), get_class_methods('StompException'),
    get_class_vars('StompFrame')]);
?>
--EXPECT--
== functions
  return array (
  'stomp_version' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'stomp_connect' =>
  array (
    0 => 4,
    1 => 0,
    2 =>
    array (
      0 => 'broker',
      1 => 'username',
      2 => 'password',
      3 => 'headers',
    ),
  ),
  'stomp_connect_error' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'stomp_get_session_id' =>
  array (
    0 => 1,
    1 => 1,
    2 =>
    array (
      0 => 'link',
    ),
  ),
  'stomp_close' =>
  array (
    0 => 1,
    1 => 1,
    2 =>
    array (
      0 => 'link',
    ),
  ),
  'stomp_send' =>
  array (
    0 => 4,
    1 => 3,
    2 =>
    array (
      0 => 'link',
      1 => 'destination',
      2 => 'msg',
      3 => 'headers',
    ),
  ),
  'stomp_subscribe' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'destination',
      2 => 'headers',
    ),
  ),
  'stomp_has_frame' =>
  array (
    0 => 1,
    1 => 1,
    2 =>
    array (
      0 => 'link',
    ),
  ),
  'stomp_read_frame' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'link',
      1 => 'class_name',
    ),
  ),
  'stomp_unsubscribe' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'destination',
      2 => 'headers',
    ),
  ),
  'stomp_begin' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'transaction_id',
      2 => 'headers',
    ),
  ),
  'stomp_commit' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'transaction_id',
      2 => 'headers',
    ),
  ),
  'stomp_abort' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'transaction_id',
      2 => 'headers',
    ),
  ),
  'stomp_ack' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'msg',
      2 => 'headers',
    ),
  ),
  'stomp_nack' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'msg',
      2 => 'headers',
    ),
  ),
  'stomp_error' =>
  array (
    0 => 1,
    1 => 1,
    2 =>
    array (
      0 => 'link',
    ),
  ),
  'stomp_set_read_timeout' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'link',
      1 => 'seconds',
      2 => 'microseconds',
    ),
  ),
  'stomp_get_read_timeout' =>
  array (
    0 => 1,
    1 => 1,
    2 =>
    array (
      0 => 'link',
    ),
  ),
)
== Stomp methods
  return array (
  '__construct' =>
  array (
    0 => 4,
    1 => 0,
    2 =>
    array (
      0 => 'broker',
      1 => 'username',
      2 => 'password',
      3 => 'headers',
    ),
  ),
  '__destruct' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'abort' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'transaction_id',
      1 => 'headers',
    ),
  ),
  'ack' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'msg',
      1 => 'headers',
    ),
  ),
  'begin' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'transaction_id',
      1 => 'headers',
    ),
  ),
  'commit' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'transaction_id',
      1 => 'headers',
    ),
  ),
  'error' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'getReadTimeout' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'getSessionId' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'hasFrame' =>
  array (
    0 => 0,
    1 => 0,
    2 =>
    array (
    ),
  ),
  'nack' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'msg',
      1 => 'headers',
    ),
  ),
  'readFrame' =>
  array (
    0 => 1,
    1 => 0,
    2 =>
    array (
      0 => 'class_name',
    ),
  ),
  'send' =>
  array (
    0 => 3,
    1 => 2,
    2 =>
    array (
      0 => 'destination',
      1 => 'msg',
      2 => 'headers',
    ),
  ),
  'setReadTimeout' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'seconds',
      1 => 'microseconds',
    ),
  ),
  'subscribe' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'destination',
      1 => 'headers',
    ),
  ),
  'unsubscribe' =>
  array (
    0 => 2,
    1 => 1,
    2 =>
    array (
      0 => 'destination',
      1 => 'headers',
    ),
  ),
)
== classes
  return array (
  0 => true,
  1 => true,
  2 => true,
  3 => true,
  4 =>
  array (
    0 => 'getDetails',
    1 => '__construct',
    2 => '__wakeup',
    3 => 'getMessage',
    4 => 'getCode',
    5 => 'getFile',
    6 => 'getLine',
    7 => 'getTrace',
    8 => 'getPrevious',
    9 => 'getTraceAsString',
    10 => '__toString',
  ),
  5 =>
  array (
    'command' => NULL,
    'headers' => NULL,
    'body' => NULL,
  ),
)
