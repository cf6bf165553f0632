--TEST--
Broker ERROR frames: receipt ERROR (false + error()), ERROR in readFrame (exception, both styles)
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

$q = dest('queue', 'work');

// receipt ERROR: commit of a transaction never begun
$e = connect();
t('commit unknown tx', fn () => $e->commit('never-begun', ['receipt' => 'r-bad']));
t('error() after receipt ERROR', fn () => $e->error());

// ERROR frame read by readFrame
$e2 = connect();
t('send in unknown tx, no receipt', fn () => $e2->send($q, 'x', ['transaction' => 'nope']));
t('readFrame ERROR', fn () => $e2->readFrame());
t('error() after readFrame ERROR', fn () => $e2->error());
t('proc read ERROR', function () {
    $l = stomp_connect($GLOBALS['URL']);
    stomp_abort($l, 'nope');
    return stomp_read_frame($l);
});
?>
--EXPECT--
== commit unknown tx
  return false
== error() after receipt ERROR
  return 'no transaction "never-begun" is open

no transaction "never-begun" is open
'
== send in unknown tx, no receipt
  return true
== readFrame ERROR
  throw StompException: 'no transaction "nope" is open' code=0 details='no transaction "nope" is open
'
== error() after readFrame ERROR
  return false
== proc read ERROR
  throw StompException: 'no transaction "nope" is open' code=0 details='no transaction "nope" is open
'
