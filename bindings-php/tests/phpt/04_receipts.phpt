--TEST--
Receipts, transactions, ack/nack, frames queued while a receipt is awaited (OOP and procedural)
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

$q = dest('queue', 'work');
$s = connect();
t('begin', fn () => $s->begin('tx1'));
t('send in tx', fn () => $s->send($q, 'in tx', ['transaction' => 'tx1']));
t('commit receipt', fn () => $s->commit('tx1', ['receipt' => 'r-commit']));
t('begin 2 receipt', fn () => $s->begin('tx2', ['receipt' => 'r-begin']));
t('send in tx2', fn () => $s->send($q, 'aborted', ['transaction' => 'tx2']));
t('abort', fn () => $s->abort('tx2', ['receipt' => 'r-abort']));
t('error still false', fn () => $s->error());

$c = connect();
t('consumer subscribe', fn () => $c->subscribe($q, ['receipt' => 'r-c']));
$m = t('consumer read', fn () => $c->readFrame());
t('ack frame', fn () => $m ? $c->ack($m, ['receipt' => 'r-ack']) : 'no frame');
t('ack string', fn () => $c->ack('does-not-exist'));
t('nack string receipt', fn () => $c->nack('does-not-exist', ['receipt' => 'r-nack']));

// frames that arrive while a receipt is awaited are queued for readFrame
$t = dest('topic', 'queued');
t('self subscribe', fn () => $c->subscribe($t));
t('send to self with receipt', fn () => $c->send($t, 'to self', ['receipt' => 'r-self']));
t('queued frame first', fn () => $c->readFrame());

// procedural transactions and acks
$l = stomp_connect($GLOBALS['URL'], 'guest', 'guest');
t('proc begin', fn () => stomp_begin($l, 'ptx', ['receipt' => 'r-pb']));
t('proc abort', fn () => stomp_abort($l, 'ptx'));
t('proc ack', fn () => stomp_ack($l, 'nope', ['receipt' => 'r-pa']));
t('proc nack', fn () => stomp_nack($l, new StompFrame('MESSAGE', ['message-id' => 'zz'])));
t('proc commit unknown tx', fn () => stomp_commit($l, 'never-begun', ['receipt' => 'r-pc']));
t('proc error after', fn () => stomp_error($l));
?>
--EXPECT--
== begin
  return true
== send in tx
  return true
== commit receipt
  return true
== begin 2 receipt
  return true
== send in tx2
  return true
== abort
  return true
== error still false
  return false
== consumer subscribe
  return true
== consumer read
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '5',
    'destination' => '/queue/<prefix>.work',
    'message-id' => '<message-id>',
    'subscription' => '/queue/<prefix>.work',
  ),
  'body' => 'in tx',
)
== ack frame
  return true
== ack string
  return true
== nack string receipt
  return true
== self subscribe
  return true
== send to self with receipt
  return true
== queued frame first
  return array (
  'class' => 'StompFrame',
  'command' => 'MESSAGE',
  'headers' =>
  array (
    'content-length' => '7',
    'destination' => '/topic/<prefix>.queued',
    'message-id' => '<message-id>',
    'subscription' => '/topic/<prefix>.queued',
  ),
  'body' => 'to self',
)
== proc begin
  return true
== proc abort
  return true
== proc ack
  return true
== proc nack
  return true
== proc commit unknown tx
  return false
== proc error after
  return 'no transaction "never-begun" is open

no transaction "never-begun" is open
'
