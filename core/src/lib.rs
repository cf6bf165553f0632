//! stompbox-core: the STOMP protocol, the broker engine and a blocking client. Only the client does I/O;
//! the codec and the engine never touch a socket.
//!
//! Module map:
//! - [`frame`]: the STOMP frame model, the sans-IO parser ([`frame::FrameParser`]) and the encoder.
//!   Incomplete input is not an error: the parser answers `Ok(None)` and waits for more bytes.
//! - [`codec`]: [`codec::StompCodec`], a tokio-util `Decoder`/`Encoder` over the parser, told its limits.
//! - [`version`]: protocol versions and `accept-version` negotiation.
//! - [`heartbeat`]: heart-beat negotiation.
//! - [`selector`]: message selectors (SUBSCRIBE's `selector`, the SQL-92 subset of JMS).
//! - [`destination`]: `/topic/` and `/queue/` names and the wildcard patterns of topic subscriptions.
//! - [`auth`]: who may connect and what they may do: principals, Apollo's users and groups files,
//!   and its access rules.
//! - [`error_code`]: the machine-readable `code` header of ERROR frames.
//! - [`broker`]: the synchronous broker engine. Each connection owns a [`broker::Session`];
//!   delivery is a non-blocking push into each session's bounded [`broker::Outbox`], so the engine is
//!   tested without an async runtime.
//! - [`store`]: persistence as the engine sees it: what is stored, group commit and durability
//!   tickets, behind a `Backend` trait the server implements on disk.
//! - [`client`]: a blocking client on `std::net` sockets, over TCP or TLS (rustls; `ssl://`,
//!   `tls://`), with a writer thread only when needed and a STOMP 1.0 raw mode that writes frames
//!   unescaped, byte for byte.

pub mod auth;
pub mod broker;
pub mod client;
pub mod codec;
pub mod destination;
pub mod error_code;
pub mod frame;
pub mod heartbeat;
pub mod selector;
pub mod store;
pub mod version;

pub use error_code::ErrorCode;
pub use frame::{Command, Frame, FrameError, FrameLimits, FrameParser, Parsed};
pub use version::Version;
