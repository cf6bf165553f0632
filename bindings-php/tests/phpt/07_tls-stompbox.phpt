--TEST--
stompbox's side of TLS: ssl:// and tls:// with ?ca=, the system's CAs, a plain tcp port, a missing CA file, failover to ssl://
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
if (!getenv('STOMP_TLS')) die('skip STOMP_TLS (a tls listener) not set');
// Which extension is loaded: only the shared object's name tells them apart.
if (!str_contains(file_get_contents('/proc/self/maps'), 'libstompbox_php')) die('skip PECL stomp is loaded: see 07_tls-pecl.phpt');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';
require __DIR__ . '/_tls.inc';
?>
--EXPECT--
== ssl:// trusting ?ca=
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '8',
    'destination' => '/queue/<prefix>.tls',
    'message-id' => '<message-id>',
    'subscription' => '/queue/<prefix>.tls',
  ),
  'body' => 'over tls',
)
== tls:// procedural
  return array (
  0 => 'resource(stomp connection)',
  1 => true,
)
== ssl:// with the system CAs only
  throw StompException: 'SSL/TLS handshake failed' code=0 details='<tls>: the server\'s certificate is not signed by a CA this client trusts (invalid peer certificate: UnknownIssuer)'
== stomp_connect_error after a failed handshake
  return array (
  0 => false,
  1 => 'SSL/TLS handshake failed',
)
== ssl:// to a plain tcp port
  throw StompException: 'SSL/TLS handshake failed' code=0 details='<broker>: the server\'s answer is not TLS (is this a plain TCP port?)'
== ssl:// with a missing CA file
  throw StompException: 'failed to create the SSL context' code=0 details='cannot load the CA certificates to trust from <ca>.missing: No such file or directory (os error 2)'
== failover from a closed tcp port to ssl://
  return true
