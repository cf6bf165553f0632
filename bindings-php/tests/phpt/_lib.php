<?php
// Shared helper of the .phpt tests: every test prints a normalized transcript (results,
// exceptions, warnings, frames with generated ids masked) that must be identical under PECL's
// stomp extension and under stompbox's, and equal to the test's --EXPECT-- section.
//
// The runner (test_differential.py) passes, through run-tests.php's environment:
// STOMP_URL (the broker), STOMP_CLOSED_URL (a port nobody listens on), STOMP_TLS (host:port of
// the broker's tls listener), STOMP_CA (the CA file its certificate chains to) and STOMP_PREFIX
// (unique per run). Addresses, the CA file, the prefix and this directory are masked in the
// whole output (fatal errors included), and trailing blanks (var_export's "=> ") are cut, so
// that --EXPECT-- sections survive editors.

error_reporting(E_ALL);

$GLOBALS['URL'] = getenv('STOMP_URL') ?: 'tcp://127.0.0.1:61613';
$GLOBALS['CLOSED_URL'] = getenv('STOMP_CLOSED_URL') ?: 'tcp://127.0.0.1:1';
$GLOBALS['TLS'] = getenv('STOMP_TLS') ?: '127.0.0.1:61614';
$GLOBALS['CA'] = getenv('STOMP_CA') ?: '/etc/stompbox/ca.pem';
// Unique per run and per test, so no test sees another's leftover messages.
$GLOBALS['PREFIX'] = (getenv('STOMP_PREFIX') ?: 'run' . getmypid()) . '.' . basename(get_included_files()[0], '.php');

ob_start(fn (string $buffer) => preg_replace('/[ \t]+$/m', '', strtr($buffer, [
    $GLOBALS['PREFIX'] => '<prefix>',
    substr($GLOBALS['CLOSED_URL'], strlen('tcp://')) => '<closed>',
    substr($GLOBALS['URL'], strlen('tcp://')) => '<broker>',
    $GLOBALS['TLS'] => '<tls>',
    $GLOBALS['CA'] => '<ca>',
    __DIR__ => '<dir>',
])));

/** A destination unique to this run (the prefix is masked in the transcript). */
function dest(string $kind, string $name): string
{
    return "/$kind/" . $GLOBALS['PREFIX'] . ".$name";
}

/** Values the broker generates, masked so both runs compare equal. */
function mask_headers($headers)
{
    if (!is_array($headers)) {
        return $headers;
    }
    foreach (['message-id', 'session', 'timestamp', 'server'] as $k) {
        if (isset($headers[$k])) {
            $headers[$k] = '<' . $k . '>';
        }
    }
    if (isset($headers['ack']) && $headers['ack'] !== 'client' && $headers['ack'] !== 'auto') {
        $headers['ack'] = '<ack>';
    }
    ksort($headers);
    return $headers;
}

function normalize($value)
{
    if ($value instanceof StompFrame || (is_object($value) && property_exists($value, 'command'))) {
        return [
            'class' => get_class($value),
            'command' => $value->command,
            'headers' => mask_headers($value->headers),
            'body' => $value->body,
        ] + (property_exists($value, 'extra') ? ['extra' => $value->extra] : []);
    }
    if (is_resource($value)) {
        return 'resource(' . get_resource_type($value) . ')';
    }
    if ($value instanceof Stomp) {
        return 'object(Stomp)';
    }
    if (is_array($value) && isset($value['command'], $value['headers'])) {
        $value['headers'] = mask_headers($value['headers']);
        return $value;
    }
    return $value;
}

/**
 * Exception details, cut after their last newline: PECL 2.0.3 copies an ERROR body as a C
 * string that is not NUL-terminated and sometimes shows a stray byte after it (README).
 */
function details(string $d): string
{
    return preg_replace('/\n[^\n]*\z/', "\n", $d);
}

function out(string $text): void
{
    echo $text, "\n";
}

/** Runs $fn, printing its result, warnings and exception. */
function t(string $label, callable $fn)
{
    $warnings = [];
    set_error_handler(function ($no, $str) use (&$warnings) {
        $warnings[] = "E$no: $str";
        return true;
    });
    $result = null;
    try {
        $result = $fn();
        $shown = 'return ' . var_export(is_string($result) ? details($result) : normalize($result), true);
    } catch (Throwable $e) {
        $shown = 'throw ' . get_class($e) . ': ' . var_export($e->getMessage(), true)
            . ' code=' . $e->getCode()
            . (method_exists($e, 'getDetails') ? ' details=' . var_export(details($e->getDetails()), true) : '');
    }
    restore_error_handler();
    out("== $label");
    foreach ($warnings as $w) {
        out("  warning $w");
    }
    out("  $shown");
    return $result;
}

/** Drains frames until a read times out, printing each. */
function drain($stomp, string $label, int $max = 10): void
{
    for ($i = 0; $i < $max; $i++) {
        $f = t("$label #$i", fn () => is_resource($stomp) ? stomp_read_frame($stomp) : $stomp->readFrame());
        if ($f === false || $f === null) {
            return;
        }
    }
}

function connect(array $headers = []): Stomp
{
    $s = new Stomp($GLOBALS['URL'], 'guest', 'guest', $headers);
    $s->setReadTimeout(1);
    return $s;
}
