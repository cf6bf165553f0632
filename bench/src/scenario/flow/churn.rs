//! A subscription that comes and goes while a room runs (`room --churn N`): one more connection
//! subscribes to the room's topic and unsubscribes again, N times a second, each confirmed by a
//! RECEIPT. The other subscribers' latency then shows whether a change of the subscriber set
//! holds up delivery to everyone else.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::Spec;
use crate::client::{Conn, Target};
use crate::scenario::counters::Counters;

/// Subscribes and unsubscribes `spec.churn` times a second until `stop`; returns how many
/// cycles completed. Failures are the run's errors.
pub(super) async fn run(stop: CancellationToken, target: Target, spec: Arc<Spec>, counters: Arc<Counters>) -> u64 {
    let mut conn = match Conn::connect(&target).await {
        Ok(conn) => conn,
        Err(e) => {
            counters.error(format!("churn: {e}"));
            return 0;
        }
    };
    let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / spec.churn.max(1) as f64));
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cycles = 0;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        let id = format!("churn{cycles}");
        let cycle = async {
            conn.subscribe(&spec.destination, &id, spec.ack, spec.prefetch, spec.selector.as_deref(), false).await?;
            conn.unsubscribe(&id).await
        };
        if let Err(e) = cycle.await {
            counters.error(format!("churn: {e}"));
            break;
        }
        cycles += 1;
    }
    conn.disconnect().await;
    cycles
}
