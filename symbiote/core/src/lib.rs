//! The symbiote chain: the small chain whose finalized history the relayer anchors into its
//! hostchains.
//!
//! This is the chain's core library: pure logic, no database, no server. It depends on no other
//! crate of the workspace; `chain-adapters`, `relayer` and the node (`symbiote-node`, which runs
//! the `symbiote` binary) depend on it for the chain's types, formats and state machine.
//! With the `client` feature it also has the HTTP client of a node's API ([`client`], bodies in
//! [`wire`]); with `process`, the logging and shutdown signals the daemons share.
//!
//! Layout of the pure-logic core:
//! - [`hash`]: blake3 with one domain-separation prefix per kind of object;
//! - [`codec`]: the canonical, versioned binary encoding (format byte + borsh) and its limits;
//! - [`types`]: identifiers and quantities (heights, amounts, hostchain ids, ...);
//! - [`crypto`]: ed25519 keys and signatures over domain-separated digests;
//! - [`validators`], [`certificate`]: validator sets, votes and quorum certificates;
//! - [`block`], [`light_client`]: headers, blocks, finalized blocks, and following headers
//!   across validator-set changes;
//! - [`merkle`], [`commitment`], [`proof`]: Merkle trees, commitments over block ranges,
//!   aggregates, and the proofs from a block hash to an anchored aggregate root.
//!
//! The chain itself:
//! - [`anchor`]: the payload a hostchain transaction carries;
//! - [`tx`]: transactions (transfers, bridge mints and burns, governance) and their signatures;
//! - [`state`], [`governance`], [`genesis`]: the deterministic state machine;
//! - [`wire`], [`client`]: the JSON bodies of a node's HTTP API, and its client;
//! - [`secret`], [`keyfile`]: where secrets come from, and the ed25519 key files.
//!
//! Every error in the pure-logic modules is about the data it was given: retrying the same
//! call with the same input never helps. The node's errors say whether a retry can help.

pub mod anchor;
pub mod block;
pub mod certificate;
pub mod codec;
pub mod commitment;
pub mod crypto;
pub mod genesis;
pub mod governance;
pub mod hash;
pub mod host_keys;
pub mod keyfile;
pub mod light_client;
pub mod merkle;
pub mod proof;
pub mod relaying;
pub mod secret;
pub mod state;
pub mod tx;
pub mod types;
pub mod validators;
pub mod wire;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "client")]
pub mod verified;

#[cfg(test)]
mod test_support;
