<?php
// Publishes N messages of 100 bytes (default 100000) and times it until the RECEIPT of the
// last one. Run under each extension by bench.sh; not a timed test.
$url = getenv('STOMP_URL') ?: 'tcp://127.0.0.1:61613';
$n = (int) (getenv('COUNT') ?: 100000);
$body = str_repeat('x', 100);
$destination = '/topic/bench.' . getmypid();

$stomp = new Stomp($url);
$stomp->setReadTimeout(30);
$start = hrtime(true);
for ($i = 1; $i < $n; $i++) {
    $stomp->send($destination, $body);
}
if (!$stomp->send($destination, $body, ['receipt' => 'last'])) {
    fwrite(STDERR, 'no receipt: ' . $stomp->error() . "\n");
    exit(1);
}
$seconds = (hrtime(true) - $start) / 1e9;
printf("%-8s %d messages in %.3f s: %.0f msg/s\n", getenv('EXT_LABEL') ?: '?', $n, $seconds, $n / $seconds);
