--TEST--
stomp: identity, INI defaults and ini_set, stomp_connect_error() before any connect
--SKIPIF--
<?php if (!extension_loaded('stomp')) die('skip stomp extension not loaded'); ?>
--FILE--
<?php
require __DIR__ . '/_lib.php';

t('extension_loaded', fn () => [extension_loaded('stomp'), extension_loaded('Stomp')]);
t('stomp_version', fn () => preg_match('/^\d+\.\d+\.\S+$/', stomp_version()));
foreach (['default_broker', 'default_username', 'default_password', 'default_read_timeout_sec',
    'default_read_timeout_usec', 'default_connection_timeout_sec', 'default_connection_timeout_usec'] as $k) {
    t("ini stomp.$k", fn () => ini_get("stomp.$k"));
}
t('ini_set', fn () => [ini_set('stomp.default_read_timeout_sec', '5'), ini_get('stomp.default_read_timeout_sec')]);
t('stomp_connect_error before', fn () => stomp_connect_error());
?>
--EXPECT--
== extension_loaded
  return array (
  0 => true,
  1 => true,
)
== stomp_version
  return 1
== ini stomp.default_broker
  return 'tcp://localhost:61613'
== ini stomp.default_username
  return ''
== ini stomp.default_password
  return ''
== ini stomp.default_read_timeout_sec
  return '2'
== ini stomp.default_read_timeout_usec
  return '0'
== ini stomp.default_connection_timeout_sec
  return '2'
== ini stomp.default_connection_timeout_usec
  return '0'
== ini_set
  return array (
  0 => '2',
  1 => '5',
)
== stomp_connect_error before
  return NULL
