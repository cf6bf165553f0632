<?php
// A request that dies of a fatal error (E_USER_ERROR: no destructors run) with a connection
// open and subscribed to dest('fatal').
require __DIR__ . '/_common.php';

$stomp = new Stomp(param('STOMP_URL'));
$stomp->subscribe(dest('fatal'));
report(['sessions' => [$stomp->getSessionId()]]);
trigger_error('fatal error with a connection open', E_USER_ERROR);
