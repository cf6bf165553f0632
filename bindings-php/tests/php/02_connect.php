<?php
// Connecting: success, credentials, refused, bad URIs, INI defaults, procedural resources.
require __DIR__ . '/_lib.php';
$url = $GLOBALS['URL'];

t('ok oop', function () use ($url) {
    $s = new Stomp($url, 'guest', 'guest');
    return [get_class($s), is_string($s->getSessionId()), $s->getReadTimeout(), $s->error()];
});
t('anonymous', fn () => is_string((new Stomp($url))->getSessionId()));
t('bad credentials oop', fn () => new Stomp($url, 'nobody', 'wrong'));
t('connect_error after broker ERROR', fn () => stomp_connect_error());
t('refused oop', fn () => new Stomp($GLOBALS['CLOSED_URL']));
t('connect_error after refused', fn () => stomp_connect_error());
foreach (['', '1', 'foo', 'ftp://localhost:61613', 'TCP://localhost', 'ssl://localhost:61612'] as $bad) {
    t("bad uri oop $bad", fn () => new Stomp($bad));
    t("bad uri proc $bad", fn () => [stomp_connect($bad), stomp_connect_error()]);
}
t('no scheme', fn () => is_string((new Stomp(substr($url, strlen('tcp://'))))->getSessionId()));
t('default broker ini', function () use ($url) {
    ini_set('stomp.default_broker', $url);
    return is_string((new Stomp())->getSessionId());
});
t('default credentials ini', function () use ($url) {
    ini_set('stomp.default_username', 'nobody');
    ini_set('stomp.default_password', 'wrong');
    try {
        return new Stomp($url);
    } finally {
        ini_restore('stomp.default_username');
        ini_restore('stomp.default_password');
    }
});
t('default read timeout ini', function () use ($url) {
    ini_set('stomp.default_read_timeout_sec', '7');
    ini_set('stomp.default_read_timeout_usec', '5');
    $s = new Stomp($url);
    ini_restore('stomp.default_read_timeout_sec');
    ini_restore('stomp.default_read_timeout_usec');
    return $s->getReadTimeout();
});
t('connection timeout ini', function () {
    ini_set('stomp.default_connection_timeout_sec', '1');
    ini_set('stomp.default_connection_timeout_usec', '500');
    return [stomp_connect($GLOBALS['CLOSED_URL']), stomp_connect_error()];
});
t('connect headers', fn () => is_string((new Stomp($url, 'guest', 'guest', ['client-id' => 'x', 'content-length' => 5]))->getSessionId()));
t('connect headers numeric key', fn () => is_string((new Stomp($url, '', '', ['a', 'b' => 'c']))->getSessionId()));
t('connect headers wrong type', fn () => new Stomp($url, '', '', 'nope'));

$link = t('proc ok', fn () => stomp_connect($url, 'guest', 'guest'));
t('proc session', fn () => is_string(stomp_get_session_id($link)));
t('proc timeout', fn () => stomp_get_read_timeout($link));
t('proc set timeout', fn () => [stomp_set_read_timeout($link, 3, 4), stomp_get_read_timeout($link)]);
t('proc error', fn () => stomp_error($link));
t('proc close', fn () => stomp_close($link));
t('proc use after close', fn () => stomp_get_session_id($link));
t('proc wrong link', fn () => stomp_get_session_id(fopen('php://memory', 'r')));
t('proc bad credentials', fn () => stomp_connect($url, 'nobody', 'wrong'));
t('proc refused', fn () => [stomp_connect($GLOBALS['CLOSED_URL']), stomp_connect_error()]);
t('destruct explicit twice', function () use ($url) {
    $s = new Stomp($url);
    $s->__destruct();
    return $s->getSessionId();
});
