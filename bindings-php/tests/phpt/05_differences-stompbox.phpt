--TEST--
stompbox's side of the listed differences (failover://, explicit __destruct(), readFrame() with an unknown class)
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
// Which extension is loaded: only the shared object's name tells them apart.
if (!str_contains(file_get_contents('/proc/self/maps'), 'libstompbox_php')) die('skip PECL stomp is loaded: see 05_differences-pecl.phpt');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';
require __DIR__ . '/_differences.inc';
?>
--EXPECT--
== failover
  return true
== failover all closed
  return array (
  0 => false,
  1 => 'Unable to connect to <closed>',
)
== explicit __destruct
  warning E2: Stomp::__destruct(): Stomp constructor was not called
  return NULL
== readFrame unknown class
  warning E2: Stomp::readFrame(): Could not find class 'NoSuchClass'
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '1',
    'destination' => '/topic/<prefix>.unknown',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.unknown',
  ),
  'body' => 'x',
)
