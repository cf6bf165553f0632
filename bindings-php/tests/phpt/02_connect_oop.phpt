--TEST--
Stomp::__construct: session, credentials, refused port, bad URIs, INI defaults, CONNECT headers
--SKIPIF--
<?php
if (!extension_loaded('stomp')) die('skip stomp extension not loaded');
if (!getenv('STOMP_URL')) die('skip STOMP_URL (a running broker) not set');
?>
--FILE--
<?php
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
foreach (['', '1', 'foo', 'ftp://localhost:61613', 'TCP://localhost', 'SSL://localhost'] as $bad) {
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

t('destruct explicit twice', function () use ($url) {
    $s = new Stomp($url);
    $s->__destruct();
    return $s->getSessionId();
});
?>
--EXPECT--
== ok oop
  return array (
  0 => 'Stomp',
  1 => true,
  2 =>
  array (
    'sec' => 2,
    'usec' => 0,
  ),
  3 => false,
)
== anonymous
  return true
== bad credentials oop
  throw StompException: 'authentication failed: unknown login or wrong passcode' code=0 details='authentication failed: unknown login or wrong passcode
'
== connect_error after broker ERROR
  return NULL
== refused oop
  throw StompException: 'Unable to connect to <closed>' code=0 details='Operation now in progress'
== connect_error after refused
  return 'Unable to connect to <closed>'
== bad uri oop
  throw StompException: 'Invalid Broker URI' code=0 details=''
== bad uri proc
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI',
)
== bad uri oop 1
  throw StompException: 'Invalid Broker URI' code=0 details=''
== bad uri proc 1
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI',
)
== bad uri oop foo
  throw StompException: 'Invalid Broker URI' code=0 details=''
== bad uri proc foo
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI',
)
== bad uri oop ftp://localhost:61613
  throw StompException: 'Invalid Broker URI scheme' code=0 details=''
== bad uri proc ftp://localhost:61613
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI scheme',
)
== bad uri oop TCP://localhost
  throw StompException: 'Invalid Broker URI scheme' code=0 details=''
== bad uri proc TCP://localhost
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI scheme',
)
== bad uri oop SSL://localhost
  throw StompException: 'Invalid Broker URI scheme' code=0 details=''
== bad uri proc SSL://localhost
  return array (
  0 => NULL,
  1 => 'Invalid Broker URI scheme',
)
== no scheme
  return true
== default broker ini
  return true
== default credentials ini
  throw StompException: 'authentication failed: unknown login or wrong passcode' code=0 details='authentication failed: unknown login or wrong passcode
'
== default read timeout ini
  return array (
  'sec' => 7,
  'usec' => 5,
)
== connection timeout ini
  return array (
  0 => false,
  1 => 'Unable to connect to <closed>',
)
== connect headers
  return true
== connect headers numeric key
  warning E2: Stomp::__construct(): Invalid argument or parameter array
  return true
== connect headers wrong type
  throw TypeError: 'Stomp::__construct(): Argument #4 ($headers) must be of type ?array, string given' code=0
== destruct explicit twice
  warning E2: Stomp::getSessionId(): Stomp constructor was not called
  warning E2: Stomp::__destruct(): Stomp constructor was not called
  return false
