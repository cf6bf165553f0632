<?php
// A full round trip on one connection: connect, subscribe (with a receipt), send (with a
// receipt), read the message back, ack it. close=explicit closes the connection (unset /
// stomp_close); close=none leaves it to the end of the request. style=oop|procedural.
require __DIR__ . '/_common.php';

$n = option('n');
$queue = dest('roundtrip');
$body = "message $n";
if (option('style') === 'oop') {
    $stomp = new Stomp(param('STOMP_URL'));
    $session = $stomp->getSessionId();
    $subscribed = $stomp->subscribe($queue, ['receipt' => "sub-$n"]);
    $sent = $stomp->send($queue, $body, ['receipt' => "send-$n"]);
    $frame = $stomp->readFrame();
    $acked = $frame ? $stomp->ack($frame, ['receipt' => "ack-$n"]) : null;
    $stomp->setReadTimeout(0, 100000);
    $more = $stomp->hasFrame();
    if (option('close') === 'explicit') {
        unset($stomp);
    }
} else {
    $link = stomp_connect(param('STOMP_URL'));
    $session = stomp_get_session_id($link);
    $subscribed = stomp_subscribe($link, $queue, ['receipt' => "sub-$n"]);
    $sent = stomp_send($link, $queue, $body, ['receipt' => "send-$n"]);
    $frame = stomp_read_frame($link);
    $acked = $frame ? stomp_ack($link, $frame['headers']['message-id'], ['receipt' => "ack-$n"]) : null;
    stomp_set_read_timeout($link, 0, 100000);
    $more = stomp_has_frame($link);
    if (option('close') === 'explicit') {
        stomp_close($link);
    }
}
report([
    'sessions' => [$session],
    'subscribed' => $subscribed,
    'sent' => $sent,
    'received' => frame_summary($frame),
    'acked' => $acked,
    'more' => $more,
]);
