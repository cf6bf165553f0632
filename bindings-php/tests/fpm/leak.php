<?php
// Leaves a connection open at the end of the request, holding an unacknowledged message of
// dest('leak') (subscribed with ack:client): keep=global (a Stomp object in a global),
// static (in a function's static variable), cycle (in a garbage cycle), resource (a
// stomp_connect() resource in a global). The next request (drain.php) must get the message
// redelivered: the broker puts it back only when this connection is gone.
require __DIR__ . '/_common.php';

$n = option('n');
$queue = dest('leak');

function keep_static(Stomp $stomp): void
{
    static $kept = [];
    $kept[] = $stomp;
}

if (option('keep') === 'resource') {
    $kept = stomp_connect(param('STOMP_URL'));
    $session = stomp_get_session_id($kept);
    stomp_subscribe($kept, $queue);
    $sent = stomp_send($kept, $queue, "leaked $n", ['receipt' => "send-$n"]);
    $frame = stomp_read_frame($kept);
} else {
    $stomp = new Stomp(param('STOMP_URL'));
    $session = $stomp->getSessionId();
    $stomp->subscribe($queue);
    $sent = $stomp->send($queue, "leaked $n", ['receipt' => "send-$n"]);
    $frame = $stomp->readFrame();
    switch (option('keep')) {
        case 'global':
            $kept = $stomp;
            break;
        case 'static':
            keep_static($stomp);
            break;
        case 'cycle':
            $kept = new stdClass();
            $kept->self = $kept;
            $kept->stomp = $stomp;
            unset($kept);
            break;
    }
    unset($stomp);
}
report(['sessions' => [$session], 'sent' => $sent, 'received' => frame_summary($frame)]);
