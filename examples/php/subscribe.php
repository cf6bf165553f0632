<?php
// Prints the bodies of messages on /topic/chat.general.demo until COUNT arrived (default 2)
// or none came for TIMEOUT seconds (default 10). Environment as send.php.
$url = getenv('STOMP_URL') ?: 'tcp://127.0.0.1:61613';
$destination = getenv('STOMP_DESTINATION') ?: '/topic/chat.general.demo';
$count = (int) (getenv('COUNT') ?: 2);

$stomp = new Stomp($url, getenv('STOMP_USER') ?: '', getenv('STOMP_PASS') ?: '');
$stomp->setReadTimeout((int) (getenv('TIMEOUT') ?: 10));
// The receipt tells us the subscription is active before we announce it.
$stomp->subscribe($destination, ['receipt' => 'subscribed']);
echo "subscribed\n";
for ($i = 0; $i < $count; $i++) {
    $frame = $stomp->readFrame();
    if ($frame === false) {
        break;
    }
    echo $frame->body, "\n";
    $stomp->ack($frame);
}
