//! The annotated example configuration parses, and states exactly the defaults; the virtual
//! hosts example parses into its two hosts.

use stompbox_server::Config;

#[test]
fn example_config_is_the_default() {
    let text = include_str!("../../examples/stompbox.toml");
    assert_eq!(Config::from_toml_str(text).expect("example parses"), Config::default());
}

#[test]
fn virtual_hosts_example_parses_into_two_hosts() {
    let text = include_str!("../../examples/virtual_hosts.toml");
    let config = Config::from_toml_str(text).expect("example parses");
    let hosts = stompbox_server::virtual_host::config::hosts(&config);
    let ids: Vec<_> = hosts.iter().map(|host| host.id.as_str()).collect();
    assert_eq!(ids, ["shop", "lab"]);
    assert_eq!(hosts[1].config.queues.max_messages, 1000);
    assert_eq!(hosts[0].config.queues.max_messages, 100_000, "the top-level section");
}
