<?php
// Posts into a chat room (/topic/chat.ROOM.demo, what the broker's /chat/ page shows): one plain
// message, which fades out of the page after 5 seconds, and one "sticky:" message, which stays
// pinned. Works with PECL's stomp extension or stompbox's (same API).
//   STOMP_URL (default tcp://127.0.0.1:61613), STOMP_USER, STOMP_PASS (default: anonymous),
//   CHAT_ROOM (default general), CHAT_NICK (the sender the page shows; default PHP)
$url = getenv('STOMP_URL') ?: 'tcp://127.0.0.1:61613';
$user = getenv('STOMP_USER') ?: '';
$pass = getenv('STOMP_PASS') ?: '';
$destination = '/topic/chat.' . (getenv('CHAT_ROOM') ?: 'general') . '.demo';
$headers = ['nick' => getenv('CHAT_NICK') ?: 'PHP'];

try {
    $stomp = new Stomp($url, $user, $pass);
    $stomp->send($destination, 'hello from PHP', $headers);
    // A receipt on the last message: returns once the broker has processed both.
    $ok = $stomp->send($destination, 'sticky: read me first', $headers + ['receipt' => 'sent-2']);
    echo $ok ? "sent 2 messages to $destination\n" : 'broker refused: ' . $stomp->error() . "\n";
    exit($ok ? 0 : 1);
} catch (StompException $e) {
    fwrite(STDERR, 'stomp error: ' . $e->getMessage() . ' ' . $e->getDetails() . "\n");
    exit(1);
}
