--TEST--
stomp_connect() and the functions on stomp connection resources: close, use after close, wrong resource
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

$url = $GLOBALS['URL'];

$link = t('proc ok', fn () => stomp_connect($url, 'guest', 'guest'));
t('proc session', fn () => is_string(stomp_get_session_id($link)));
t('proc timeout', fn () => stomp_get_read_timeout($link));
t('proc set timeout', fn () => [stomp_set_read_timeout($link, 3, 4), stomp_get_read_timeout($link)]);
t('proc error', fn () => stomp_error($link));
t('proc close', fn () => stomp_close($link));
t('proc use after close', fn () => stomp_get_session_id($link));
t('proc wrong link', fn () => stomp_get_session_id(fopen('php://memory', 'r')));
t('proc bad credentials', fn () => stomp_connect($url, 'nobody', 'wrong'));
t('proc refused', fn () => [stomp_connect($GLOBALS['CLOSED_URL']), stomp_connect_error()]);
?>
--EXPECT--
== proc ok
  return 'resource(stomp connection)'
== proc session
  return true
== proc timeout
  return array (
  'sec' => 2,
  'usec' => 0,
)
== proc set timeout
  return array (
  0 => NULL,
  1 =>
  array (
    'sec' => 3,
    'usec' => 4,
  ),
)
== proc error
  return false
== proc close
  return true
== proc use after close
  throw TypeError: 'stomp_get_session_id(): supplied resource is not a valid stomp connection resource' code=0
== proc wrong link
  throw TypeError: 'stomp_get_session_id(): supplied resource is not a valid stomp connection resource' code=0
== proc bad credentials
  throw StompException: 'authentication failed: unknown login or wrong passcode' code=0 details='authentication failed: unknown login or wrong passcode
'
== proc refused
  return array (
  0 => false,
  1 => 'Unable to connect to <closed>',
)
