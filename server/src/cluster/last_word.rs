//! Following a JetStream stream that keeps the last word said on each subject (one message per
//! subject): retained messages (`retained`) and durable subscriptions (`durables`). Every node
//! reads each subject's last message, then each new one, in the stream's order, and applies it,
//! its own words included: all nodes end in the same state whichever said the last word, and a
//! node started later reads every word back.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::stream::{self, StorageType};
use async_nats::jetstream::{self, Context};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How long the follower waits before it tries again after an error.
const RETRY: Duration = Duration::from_secs(1);

/// The stream `name` of last words on `subjects` (made if it does not exist).
pub(super) fn stream(name: String, subjects: String, replicas: usize) -> stream::Config {
    stream::Config {
        name,
        subjects: vec![subjects],
        max_messages_per_subject: 1,
        storage: StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Follows the stream `config` until `cancel`, handing each word to `apply`; reads it again
/// from its start after an error.
pub(super) async fn follow(
    jetstream: Context,
    config: stream::Config,
    cancel: CancellationToken,
    apply: impl Fn(jetstream::Message),
) {
    while !cancel.is_cancelled() {
        if let Err(error) = cancel.run_until_cancelled(read(&jetstream, &config, &apply)).await.transpose() {
            warn!(%error, stream = %config.name, "cluster: following a JetStream stream failed; trying again");
            let _ = cancel.run_until_cancelled(tokio::time::sleep(RETRY)).await;
        }
    }
}

/// Applies the stream's last message per subject, then each new one, until an error.
async fn read(
    jetstream: &Context,
    config: &stream::Config,
    apply: &impl Fn(jetstream::Message),
) -> Result<(), async_nats::Error> {
    let stream = jetstream.get_or_create_stream(config.clone()).await?;
    let consumer = pull::OrderedConfig {
        filter_subject: config.subjects[0].clone(),
        deliver_policy: DeliverPolicy::LastPerSubject,
        ..Default::default()
    };
    let mut messages = stream.create_consumer(consumer).await?.messages().await?;
    while let Some(message) = messages.next().await {
        apply(message?);
    }
    Err(format!("the stream {} ended", config.name).into())
}
