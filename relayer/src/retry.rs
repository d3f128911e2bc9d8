//! One retry policy for every stage: how long to wait after a failure, when to give up, and how
//! a failure is counted in the metrics.
//!
//! Every error a stage can meet says whether retrying can help ([`Failure::is_retryable`]) and
//! gives a short label for the metrics ([`Failure::label`]); store errors are counted apart from
//! hostchain and symbiote errors ([`Failure::is_store`]). A retryable failure is retried for
//! ever with an exponential backoff; a failure that is not retryable is retried with the same
//! backoff until the policy's `give_up_after` attempts, when the item is given up for an
//! operator (where the stage has such an end: anchors become `failed`).

use std::time::Duration;

use chain_adapters::AdapterError;
use symbiote::client::ClientError;
use symbiote::verified::ReadError;

use crate::bridge::publisher::PublishError;
use crate::scout::ReportError;
use crate::store::StoreError;

/// Why a step of a stage failed: the one error type of every stage (anchors, the tracker, the
/// bridge), so that one policy decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("symbiote node: {0}")]
    Node(#[from] ClientError),
    /// The node's answer does not check against verified state (or it could not be asked).
    #[error("symbiote node: {0}")]
    Read(#[from] ReadError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Report(#[from] ReportError),
    /// What is stored or was answered does not fit together; retrying does not help.
    #[error("{0}")]
    Inconsistent(String),
}

impl Failure for StepError {
    fn is_retryable(&self) -> bool {
        match self {
            StepError::Adapter(e) => e.is_retryable(),
            StepError::Store(e) => e.is_retryable(),
            StepError::Node(e) => e.is_retryable(),
            StepError::Read(e) => e.is_retryable(),
            StepError::Publish(e) => e.is_retryable(),
            StepError::Report(_) | StepError::Inconsistent(_) => false,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            StepError::Adapter(e) => e.kind.label(),
            StepError::Store(_) => "store",
            StepError::Node(_) | StepError::Publish(_) => "symbiote",
            StepError::Read(ReadError::Node(_)) => "symbiote",
            StepError::Read(ReadError::Lie { .. }) => "false_answer",
            StepError::Report(_) => "report",
            StepError::Inconsistent(_) => "inconsistent",
        }
    }

    fn is_store(&self) -> bool {
        matches!(self, StepError::Store(_))
    }
}

/// What every stage error tells the retry policy and the metrics.
pub trait Failure: std::fmt::Display {
    /// Whether the same step may succeed later without anything else changing.
    fn is_retryable(&self) -> bool;
    /// A short label for the metrics (`rpc_errors_total{kind=...}`).
    fn label(&self) -> &'static str;
    /// Whether it is the relayer's own database failing (counted as a store error, not as an
    /// error of a hostchain or the symbiote).
    fn is_store(&self) -> bool {
        false
    }
}

impl Failure for crate::store::StoreError {
    fn is_retryable(&self) -> bool {
        crate::store::StoreError::is_retryable(self)
    }
    fn label(&self) -> &'static str {
        "store"
    }
    fn is_store(&self) -> bool {
        true
    }
}

impl Failure for chain_adapters::AdapterError {
    fn is_retryable(&self) -> bool {
        chain_adapters::AdapterError::is_retryable(self)
    }
    fn label(&self) -> &'static str {
        self.kind.label()
    }
}

impl Failure for symbiote::client::ClientError {
    fn is_retryable(&self) -> bool {
        symbiote::client::ClientError::is_retryable(self)
    }
    fn label(&self) -> &'static str {
        "symbiote"
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this long.
    After(Duration),
    /// Stop trying: the item needs an operator.
    GiveUp,
}

/// The backoff and the limit on failures that cannot heal by themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with each further failure.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// After this many consecutive failures that are not retryable, give up; `None`: never.
    pub give_up_after: Option<u64>,
}

impl RetryPolicy {
    /// The wait after `failures` consecutive failures (at least 1): `first * 2^(failures - 1)`,
    /// at most `cap`.
    pub fn backoff(&self, failures: u64) -> Duration {
        let exponent = u32::try_from(failures.saturating_sub(1).min(20)).unwrap_or(20);
        self.first
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.cap)
    }

    /// What to do after the `failures`-th consecutive failure of one item, which was (or was
    /// not) retryable.
    pub fn after(&self, failures: u64, retryable: bool) -> Retry {
        match self.give_up_after {
            Some(limit) if !retryable && failures >= limit => Retry::GiveUp,
            _ => Retry::After(self.backoff(failures)),
        }
    }

    /// The same policy, never giving up.
    pub fn never_giving_up(self) -> RetryPolicy {
        RetryPolicy {
            give_up_after: None,
            ..self
        }
    }
}

/// The failures of one loop (a stage's whole step), for its backoff.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u64,
}

impl Backoff {
    /// A loop that has not failed yet.
    pub fn new(policy: RetryPolicy) -> Backoff {
        Backoff {
            policy: policy.never_giving_up(),
            failures: 0,
        }
    }

    /// A step succeeded: the next one comes after `poll`.
    pub fn succeeded(&mut self, poll: Duration) -> Duration {
        self.failures = 0;
        poll
    }

    /// A step failed: the next one comes after the backoff (at least `poll`).
    pub fn failed(&mut self, poll: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.policy.backoff(self.failures).max(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        first: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        give_up_after: Some(5),
    };

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let waits: Vec<u64> = (1..=8).map(|n| POLICY.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(POLICY.backoff(u64::MAX), Duration::from_secs(60));
    }

    #[test]
    fn only_hard_failures_give_up() {
        assert_eq!(POLICY.after(4, false), Retry::After(Duration::from_secs(8)));
        assert_eq!(POLICY.after(5, false), Retry::GiveUp);
        assert_eq!(
            POLICY.after(50, true),
            Retry::After(Duration::from_secs(60))
        );
        assert_eq!(
            POLICY.never_giving_up().after(50, false),
            Retry::After(Duration::from_secs(60))
        );
    }

    #[test]
    fn a_loop_backs_off_and_resets() {
        let mut loop_backoff = Backoff::new(POLICY);
        let poll = Duration::from_millis(10);
        assert_eq!(loop_backoff.failed(poll), Duration::from_secs(1));
        assert_eq!(loop_backoff.failed(poll), Duration::from_secs(2));
        assert_eq!(loop_backoff.succeeded(poll), poll);
        assert_eq!(loop_backoff.failed(poll), Duration::from_secs(1));
    }
}
