--TEST--
Bursts of sends without a receipt all arrive, in order: before a receipt returns, after unset, stomp_close and the end of a script
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

const BURST = 2000;

/** Sends BURST numbered messages to $q without receipts. */
function burst($stomp, string $q): bool
{
    $ok = true;
    for ($i = 0; $i < BURST; $i++) {
        $ok = (is_resource($stomp) ? stomp_send($stomp, $q, "m$i") : $stomp->send($q, "m$i")) && $ok;
    }
    return $ok;
}

/** Reads $q: how many of m0..m(BURST-1) came, in order, then what else is there. */
function received(string $q): array
{
    $c = connect();
    $c->subscribe($q);
    $in_order = 0;
    for ($i = 0; $i < BURST; $i++) {
        $f = $c->readFrame();
        if (!$f || $f->body !== "m$i") {
            break;
        }
        $c->ack($f);
        $in_order++;
    }
    $c->setReadTimeout(0, 200000);
    $rest = [];
    while ($f = $c->readFrame()) {
        $rest[] = $f->body;
        $c->ack($f);
    }
    return ['in order' => $in_order, 'then' => $rest];
}

// A receipt is confirmed after everything sent before it.
$q = dest('queue', 'receipt');
$p = connect();
t('burst', fn () => burst($p, $q));
t('send with receipt', fn () => $p->send($q, 'last', ['receipt' => 'r-last']));
t('received', fn () => received($q));

// unset: the destructor sends what is queued, then DISCONNECT.
$q = dest('queue', 'unset');
$p = connect();
t('burst', fn () => burst($p, $q));
unset($p);
t('received after unset', fn () => received($q));

// stomp_close, procedural.
$q = dest('queue', 'close');
$l = stomp_connect($GLOBALS['URL'], 'guest', 'guest');
t('proc burst', fn () => burst($l, $q));
t('stomp_close', fn () => stomp_close($l));
t('received after stomp_close', fn () => received($q));

// The end of a script: another php, with the same extension, sends and leaves the
// connection open in a global.
$q = dest('queue', 'script-end');
$ours = preg_match('/\S*libstompbox_php\S*/', file_get_contents('/proc/self/maps'), $m);
$code = 'for ($i = 0; $i < ' . BURST . '; $i++) { $GLOBALS["s"] ??= new Stomp(getenv("STOMP_URL"));'
    . ' $GLOBALS["s"]->send(' . var_export($q, true) . ', "m$i"); }';
t('script exit code', function () use ($ours, $m, $code) {
    $cmd = [PHP_BINARY, '-n', '-d', 'extension=' . ($ours ? $m[0] : 'stomp'), '-r', $code];
    $php = proc_open($cmd, [], $pipes);
    return proc_close($php);
});
t('received after the script ended', fn () => received($q));
--EXPECT--
== burst
  return true
== send with receipt
  return true
== received
  return array (
  'in order' => 2000,
  'then' =>
  array (
    0 => 'last',
  ),
)
== burst
  return true
== received after unset
  return array (
  'in order' => 2000,
  'then' =>
  array (
  ),
)
== proc burst
  return true
== stomp_close
  return true
== received after stomp_close
  return array (
  'in order' => 2000,
  'then' =>
  array (
  ),
)
== script exit code
  return 0
== received after the script ended
  return array (
  'in order' => 2000,
  'then' =>
  array (
  ),
)
