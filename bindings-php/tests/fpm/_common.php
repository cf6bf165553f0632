<?php
// Shared by the PHP-FPM request scripts (test_fpm.py). Parameters arrive as FastCGI params
// ($_SERVER): STOMP_URL (the broker), STOMP_CLOSED_URL (a port nobody listens on),
// STOMP_PREFIX (unique per run); and in the query string: n (the request's number) and the
// script's own options. Each script prints one JSON line: report().

error_reporting(E_ALL);

// What this request inherited from earlier requests of the same worker: must be nothing.
$GLOBALS['AT_START'] = [
    'connect_error' => stomp_connect_error(),
    'open_resources' => count(get_resources('stomp connection')),
];

function param(string $name): string
{
    return (string) ($_SERVER[$name] ?? '');
}

function option(string $name): string
{
    return (string) ($_GET[$name] ?? '');
}

/** A destination unique to this test run. */
function dest(string $name): string
{
    return '/queue/' . param('STOMP_PREFIX') . '.' . $name;
}

/** A frame (object or array) as [command, destination, body, redelivered]. */
function frame_summary($frame)
{
    if (is_object($frame)) {
        $frame = ['command' => $frame->command, 'headers' => $frame->headers, 'body' => $frame->body];
    }
    if (!is_array($frame)) {
        return $frame;
    }
    return [$frame['command'], $frame['headers']['destination'] ?? null, $frame['body'],
        $frame['headers']['redelivered'] ?? 'false'];
}

/** Which extension this worker runs: stompbox's is told apart by its library in the maps. */
function implementation(): string
{
    if (!extension_loaded('stomp')) {
        return 'none';
    }
    return str_contains((string) file_get_contents('/proc/self/maps'), 'libstompbox_php') ? 'stompbox' : 'pecl';
}

/** Prints the request's result: the worker, what it started with, and $fields. */
function report(array $fields): void
{
    echo json_encode([
        'pid' => getmypid(),
        'extension' => implementation(),
        'at_start' => $GLOBALS['AT_START'],
    ] + $fields, JSON_UNESCAPED_SLASHES), "\n";
    flush();
}
