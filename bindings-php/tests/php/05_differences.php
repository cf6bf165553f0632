<?php
// The deliberate differences (bindings-php/README.md, "Differences"): this transcript differs
// between the two extensions; the runner compares each with its own checked-in transcript.
require __DIR__ . '/_lib.php';

// 1. failover:// (opt-in improvement): PECL refuses the scheme; ours tries each address.
$port = parse_url($GLOBALS['URL'], PHP_URL_PORT);
t('failover', function () use ($port) {
    $s = new Stomp("failover://(" . $GLOBALS['CLOSED_URL'] . ",tcp://127.0.0.1:$port)");
    return is_string($s->getSessionId());
});
t('failover all closed', fn () => [stomp_connect('failover://(' . $GLOBALS['CLOSED_URL'] . ')'), stomp_connect_error()]);

// 2. __destruct() called explicitly: PECL returns true, ours NULL (PHP forbids a declared
//    return type on __destruct, which ext-php-rs needs to return a value).
t('explicit __destruct', fn () => (new Stomp($GLOBALS['URL']))->__destruct());

// 3. readFrame() with an unknown class: PECL 2.0.3 on PHP 8 dies with "Class not found"
//    (zend_fetch_class is not silent); ours warns and falls back to StompFrame, as PECL's docs say.
$s = connect();
$s->subscribe(dest('topic', 'unknown'), ['receipt' => 'r']);
$s->send(dest('topic', 'unknown'), 'x');
t('readFrame unknown class', fn () => $s->readFrame('NoSuchClass'));
