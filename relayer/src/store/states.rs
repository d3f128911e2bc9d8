//! Every state and kind the store persists as text, in one place: the names stored in the
//! tables (`anchors.state`, `releases.state`, `transitions.entity`...). Renaming one breaks
//! every row written before; add variants, never rename or reuse one.

use crate::persisted_enum;

persisted_enum!(
    /// What a transition is about (`transitions.entity`); its id is the row's key in its table
    /// (a batch or anchor id, a deposit's row id, a release's nonce).
    Entity, "entity" {
        Batch = "batch",
        Anchor = "anchor",
        Deposit = "deposit",
        Release = "release",
        Rotation = "rotation",
    }
);

persisted_enum!(
    /// Where a batch stands (`batches.state`).
    BatchState, "batch state" {
        /// At least one of its anchors is not final yet.
        Anchoring = "anchoring",
        /// Every one of its anchors is final.
        Anchored = "anchored",
    }
);

persisted_enum!(
    /// Where a deposit stands (`deposits.state`).
    DepositState, "deposit state" {
        /// Past its depth on the hostchain; this relayer has not attested it yet.
        Seen = "seen",
        /// This relayer's attestation is on the symbiote; waiting for the others.
        Attested = "attested",
        /// Minted on the symbiote: done.
        Minted = "minted",
        /// It names no valid symbiote account: kept for a refund.
        Unroutable = "unroutable",
    }
);

persisted_enum!(
    /// Where a release stands, as this relayer drives it (`releases.state`).
    ReleaseStep, "release state" {
        /// Known; the destination is not scouted yet.
        Scouting = "scouting",
        /// Scouted clean (or released by governance): this relayer's approval is to be
        /// published.
        Approving = "approving",
        /// Scouted suspicious or malicious: this relayer's hold is to be published.
        Holding = "holding",
        /// Held on the symbiote: waiting for governance to lift it or refund the order.
        Held = "held",
        /// This relayer's approval is on the symbiote: waiting for a threshold, then submission
        /// (by the designated relayer, or by any after the takeover delay).
        Approved = "approved",
        /// Held back by the release limits until `release_after`.
        Queued = "queued",
        /// A release transaction is stored and sent: followed until final.
        Submitted = "submitted",
        /// Accepted by the bridge into its own queue: payable from `release_after`.
        QueuedOnChain = "queued_on_chain",
        /// The payment of a bridge-queued release is stored and sent: followed until final.
        Executing = "executing",
        /// Paid on the hostchain: done.
        Released = "released",
        /// Refunded on the symbiote by governance: done, never released.
        Refunded = "refunded",
        /// Refused for good (the bridge cancelled it, or a hard error): needs an operator.
        Failed = "failed",
    }
);

impl ReleaseStep {
    /// Whether nothing more happens to it.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            ReleaseStep::Released | ReleaseStep::Refunded | ReleaseStep::Failed
        )
    }

    /// Whether nothing of it has been sent to the hostchain yet (governance decisions still
    /// apply).
    pub fn is_before_submission(self) -> bool {
        matches!(
            self,
            ReleaseStep::Scouting
                | ReleaseStep::Approving
                | ReleaseStep::Holding
                | ReleaseStep::Held
                | ReleaseStep::Approved
                | ReleaseStep::Queued
        )
    }
}

persisted_enum!(
    /// Why this relayer approves or holds a release (`releases.verdict`): its scout's verdict,
    /// or governance lifting a hold before this relayer scouted it.
    ScoutDecision, "scout decision" {
        /// Scouted clean.
        Clean = "clean",
        /// Scouted suspicious.
        Suspicious = "suspicious",
        /// Scouted malicious.
        Malicious = "malicious",
        /// Not scouted: governance lifted a hold on it first.
        Lifted = "lifted",
    }
);

persisted_enum!(
    /// Where an anchor stands (`anchors.state`).
    AnchorState, "anchor state" {
        /// Created with its batch; no transaction yet.
        Pending = "pending",
        /// A signed transaction is stored, not yet sent.
        Prepared = "prepared",
        /// Sent; waiting for inclusion.
        Broadcast = "broadcast",
        /// Included, not yet past the confirmation depth.
        Included = "included",
        /// Past the confirmation depth (or finalized): done.
        Final = "final",
        /// Refused for good; needs an operator.
        Failed = "failed",
    }
);

persisted_enum!(
    /// Where a submitted rotation stands (`rotations.state`).
    RotationState, "rotation state" {
        /// Its transaction is stored and sent: followed.
        Submitted = "submitted",
        /// The contract holds the new set (by this transaction or another relayer's): done.
        Done = "done",
    }
);
