<?php
// Identity, INI settings, classes, StompFrame and StompException without a broker.
require __DIR__ . '/_lib.php';

t('extension_loaded', fn () => [extension_loaded('stomp'), extension_loaded('Stomp')]);
t('stomp_version', fn () => preg_match('/^\d+\.\d+\.\S+$/', stomp_version()));
foreach (['default_broker', 'default_username', 'default_password', 'default_read_timeout_sec',
    'default_read_timeout_usec', 'default_connection_timeout_sec', 'default_connection_timeout_usec'] as $k) {
    t("ini stomp.$k", fn () => ini_get("stomp.$k"));
}
t('ini_set', fn () => [ini_set('stomp.default_read_timeout_sec', '5'), ini_get('stomp.default_read_timeout_sec')]);
t('functions', function () {
    $names = [];
    foreach (['stomp_version', 'stomp_connect', 'stomp_connect_error', 'stomp_get_session_id', 'stomp_close',
        'stomp_send', 'stomp_subscribe', 'stomp_has_frame', 'stomp_read_frame', 'stomp_unsubscribe', 'stomp_begin',
        'stomp_commit', 'stomp_abort', 'stomp_ack', 'stomp_nack', 'stomp_error', 'stomp_set_read_timeout',
        'stomp_get_read_timeout'] as $f) {
        $r = new ReflectionFunction($f);
        $names[$f] = [$r->getNumberOfParameters(), $r->getNumberOfRequiredParameters(),
            array_map(fn ($p) => $p->getName(), $r->getParameters())];
    }
    return $names;
});
t('Stomp methods', function () {
    $out = [];
    foreach ((new ReflectionClass('Stomp'))->getMethods() as $m) {
        $out[$m->getName()] = [$m->getNumberOfParameters(), $m->getNumberOfRequiredParameters(),
            array_map(fn ($p) => $p->getName(), $m->getParameters())];
    }
    ksort($out); // ours lists __construct last (README: differences)
    return $out;
});
t('classes', fn () => [class_exists('Stomp'), class_exists('StompFrame'), class_exists('StompException'),
    is_subclass_of('StompException', 'Exception'), get_class_methods('StompException'),
    get_class_vars('StompFrame')]);
t('frame empty', fn () => new StompFrame());
t('frame full', fn () => new StompFrame('SEND', ['a' => 'b'], 'body'));
t('frame empty body', fn () => new StompFrame('SEND', ['a' => 'b'], ''));
t('frame empty command', fn () => new StompFrame('', null, 'x'));
t('frame var_dump', function () {
    ob_start();
    var_dump(new StompFrame('SEND', ['a' => 1], 'x'));
    return ob_get_clean();
});
t('frame props writable', function () {
    $f = new StompFrame('SEND');
    $f->headers['x'] = 'y';
    $f->body = 'b';
    return $f;
});
t('exception details default', fn () => (new StompException('m'))->getDetails());
t('exception thrown by user', function () {
    throw new StompException('user', 3);
});
t('stomp_connect_error before', fn () => stomp_connect_error());
