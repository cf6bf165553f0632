//! What a queue shared by the nodes of a cluster needs from the engine (see `cluster`).
//!
//! A message a node took from the cluster's queue carries a [`Claim`]: the local queue delivers
//! it as any other and, when done with it, settles the claim: acknowledged (or expired, or
//! dead-lettered) means the cluster forgets it; given back unacknowledged (NACK, or its consumer
//! left) means the cluster delivers it again, on any node. A [`Confirmation`] is what a RECEIPT
//! waits for when the answer comes from the cluster rather than the local store: the cluster
//! stored a sent message, or took an acknowledgement.

use std::fmt;

use tokio::sync::watch;

/// This node's hold on a message of the cluster's queue. See the module docs.
pub trait Claim: Send + Sync + fmt::Debug {
    /// The local queue is done with the message: the cluster forgets it. Resolves once the
    /// cluster confirmed that; a second call confirms at once.
    fn done(&self) -> Confirmation;

    /// The message came back unacknowledged: the cluster delivers it again.
    fn release(&self);
}

type Outcome = Option<Result<(), String>>;

/// The answer a RECEIPT waits for from the cluster. See the module docs.
#[derive(Debug, Clone)]
pub struct Confirmation(watch::Receiver<Outcome>);

/// The side that resolves a [`Confirmation`]; dropping it unresolved fails it.
#[derive(Debug)]
pub struct Confirmer(watch::Sender<Outcome>);

/// A confirmation pending until its confirmer resolves it.
pub fn confirmation() -> (Confirmer, Confirmation) {
    let (sender, receiver) = watch::channel(None);
    (Confirmer(sender), Confirmation(receiver))
}

impl Confirmer {
    /// Resolves the confirmation: `Err` carries why the cluster refused.
    pub fn resolve(self, outcome: Result<(), String>) {
        self.0.send_replace(Some(outcome));
    }

    /// Whether anyone still waits for the answer (a RECEIPT does).
    pub fn is_awaited(&self) -> bool {
        self.0.receiver_count() > 0
    }
}

impl Confirmation {
    /// A confirmation resolved already, with `outcome`.
    pub fn resolved(outcome: Result<(), String>) -> Confirmation {
        let (confirmer, confirmation) = confirmation();
        confirmer.resolve(outcome);
        confirmation
    }

    /// The answer, once there is one.
    pub fn outcome(&self) -> Option<Result<(), String>> {
        if let Some(outcome) = self.0.borrow().clone() {
            return Some(outcome);
        }
        self.0.has_changed().is_err().then(|| Err("the cluster bridge stopped before it answered".to_owned()))
    }

    /// Resolves once there is an answer.
    pub async fn answered(&self) {
        let mut receiver = self.0.clone();
        let _ = receiver.wait_for(Option::is_some).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_confirmation_follows_its_confirmer() {
        let (confirmer, pending) = confirmation();
        assert_eq!(pending.outcome(), None);
        assert!(confirmer.is_awaited());
        confirmer.resolve(Ok(()));
        pending.answered().await;
        assert_eq!(pending.outcome(), Some(Ok(())));
        let (confirmer, abandoned) = confirmation();
        drop(confirmer);
        abandoned.answered().await;
        assert!(matches!(abandoned.outcome(), Some(Err(_))), "a dropped confirmer fails it");
    }
}
