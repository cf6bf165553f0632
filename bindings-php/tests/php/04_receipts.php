<?php
// Receipts, transactions, ack/nack, broker ERROR frames, queued frames during a receipt wait.
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
