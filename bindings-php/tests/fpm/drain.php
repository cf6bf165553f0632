<?php
// After leak.php: subscribes to dest('leak'), gets the message the previous request left
// unacknowledged (redelivered), acks it, and checks nothing else is waiting.
require __DIR__ . '/_common.php';

$stomp = new Stomp(param('STOMP_URL'));
$stomp->subscribe(dest('leak'));
$frame = $stomp->readFrame();
$acked = $frame ? $stomp->ack($frame, ['receipt' => 'ack-' . option('n')]) : null;
$stomp->setReadTimeout(0, 100000);
report(['sessions' => [$stomp->getSessionId()], 'received' => frame_summary($frame), 'acked' => $acked,
    'more' => $stomp->hasFrame()]);
