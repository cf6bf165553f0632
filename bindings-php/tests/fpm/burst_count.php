<?php
// After burst.php: how many of its messages arrived in order, and whether anything follows.
require __DIR__ . '/_common.php';

$stomp = new Stomp(param('STOMP_URL'));
$stomp->subscribe(dest('burst'));
$in_order = 0;
while ($frame = $stomp->readFrame()) {
    if ($frame->body !== "m$in_order") {
        break;
    }
    $stomp->ack($frame);
    $in_order++;
    if ($in_order === 2000) {
        $stomp->setReadTimeout(0, 100000);
    }
}
report(['sessions' => [$stomp->getSessionId()], 'in_order' => $in_order]);
