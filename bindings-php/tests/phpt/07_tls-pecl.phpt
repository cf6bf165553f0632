--TEST--
PECL's side of TLS: ssl:// and tls:// with ?ca=, the system's CAs, a plain tcp port, a missing CA file, failover to ssl://
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
if (!getenv('STOMP_TLS')) die('skip STOMP_TLS (a tls listener) not set');
// Which extension is loaded: only the shared object's name tells them apart.
if (str_contains(file_get_contents('/proc/self/maps'), 'libstompbox_php')) die('skip stompbox is loaded: see 07_tls-stompbox.phpt');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';
require __DIR__ . '/_tls.inc';
?>
--EXPECT--
== ssl:// trusting ?ca=
  throw StompException: 'SSL DISABLED' code=0 details=''
== tls:// procedural
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI scheme',
)
== ssl:// with the system CAs only
  throw StompException: 'SSL DISABLED' code=0 details=''
== stomp_connect_error after a failed handshake
  return array (
  0 => NULL,
  1 => 'SSL DISABLED',
)
== ssl:// to a plain tcp port
  throw StompException: 'SSL DISABLED' code=0 details=''
== ssl:// with a missing CA file
  throw StompException: 'SSL DISABLED' code=0 details=''
== failover from a closed tcp port to ssl://
  throw StompException: 'Invalid Broker URI scheme' code=0 details=''
