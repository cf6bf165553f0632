//! The annotated example configuration parses, and states exactly the defaults.

use stompbox_server::Config;

#[test]
fn example_config_is_the_default() {
    let text = include_str!("../../examples/stompbox.toml");
    assert_eq!(Config::from_toml_str(text).expect("example parses"), Config::default());
}
