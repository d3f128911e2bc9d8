//! The symbiote chain: the small chain whose finalized history the relayer anchors into its
//! hostchains.
//!
//! This crate depends on no other crate of the workspace; `chain-adapters` and `relayer` depend
//! on it for the chain's types and commitment formats.

pub mod hash;
