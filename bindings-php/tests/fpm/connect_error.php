<?php
// stomp_connect_error() within one request: how=procedural|oop fail to connect (nobody listens
// on STOMP_CLOSED_URL); how=fail_then_ok fails, then connects (the error stays); how=none
// connects to nothing. at_start.connect_error must be NULL in every request.
require __DIR__ . '/_common.php';

$result = null;
$sessions = [];
switch (option('how')) {
    case 'procedural':
        $result = @stomp_connect(param('STOMP_CLOSED_URL'));
        break;
    case 'oop':
        try {
            new Stomp(param('STOMP_CLOSED_URL'));
        } catch (StompException $e) {
            $result = [get_class($e), $e->getMessage(), $e->getDetails()];
        }
        break;
    case 'fail_then_ok':
        $failed = @stomp_connect(param('STOMP_CLOSED_URL'));
        $link = stomp_connect(param('STOMP_URL'));
        $sessions[] = stomp_get_session_id($link);
        $result = [$failed, is_resource($link)];
        break;
}
report(['sessions' => $sessions, 'result' => $result, 'connect_error' => stomp_connect_error()]);
