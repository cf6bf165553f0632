<?php
// Sends a burst of messages to dest('burst') without receipts and leaves the connection open
// in a global: the end of the request must send them all (burst_count.php counts them), then
// DISCONNECT. Under stompbox the sends start the connection's writer thread; the test checks
// that no worker still has one once the requests are done.
require __DIR__ . '/_common.php';

const BURST = 2000;

$GLOBALS['kept'] = new Stomp(param('STOMP_URL'));
$sent = true;
for ($i = 0; $i < BURST; $i++) {
    $sent = $GLOBALS['kept']->send(dest('burst'), "m$i") && $sent;
}
report(['sessions' => [$GLOBALS['kept']->getSessionId()], 'sent' => $sent]);
