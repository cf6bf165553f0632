<?php
// Publishes two messages to /topic/chat.general.demo: one plain, one "sticky:".
// Works with PECL's stomp extension or stompbox's (same API).
//   STOMP_URL (default tcp://127.0.0.1:61613), STOMP_USER, STOMP_PASS (default: anonymous)
$url = getenv('STOMP_URL') ?: 'tcp://127.0.0.1:61613';
$user = getenv('STOMP_USER') ?: '';
$pass = getenv('STOMP_PASS') ?: '';
$destination = getenv('STOMP_DESTINATION') ?: '/topic/chat.general.demo';

try {
    $stomp = new Stomp($url, $user, $pass);
    $stomp->send($destination, 'hello from PHP');
    // A receipt on the last message: returns once the broker has processed both.
    $ok = $stomp->send($destination, 'sticky: read me first', ['receipt' => 'sent-2']);
    echo $ok ? "sent 2 messages to $destination\n" : 'broker refused: ' . $stomp->error() . "\n";
    exit($ok ? 0 : 1);
} catch (StompException $e) {
    fwrite(STDERR, 'stomp error: ' . $e->getMessage() . ' ' . $e->getDetails() . "\n");
    exit(1);
}
