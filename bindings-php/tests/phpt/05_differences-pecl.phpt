--TEST--
PECL's side of the listed differences (failover://, explicit __destruct(), readFrame() with an unknown class)
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
// Which extension is loaded: only the shared object's name tells them apart.
if (str_contains(file_get_contents('/proc/self/maps'), 'libstompbox_php')) die('skip stompbox is loaded: see 05_differences-stompbox.phpt');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';
require __DIR__ . '/_differences.inc';
?>
--EXPECT--
== failover
  throw StompException: 'Invalid Broker URI scheme' code=0 details=''
== failover all closed
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI scheme',
)
== explicit __destruct
  warning E2: Stomp::__destruct(): Stomp constructor was not called
  return true

Fatal error: Class "NoSuchClass" not found in <dir>/_differences.inc on line 23
