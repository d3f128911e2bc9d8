//! Rust bindings of the symbiote contracts, generated from the committed artifacts
//! (`contracts/artifacts/*.json`, exported by `contracts/export-artifacts.sh`), and the EIP-712
//! typed-data structs the relayers sign.
//!
//! The artifacts carry the bytecode too, so tests and tools can deploy the contracts with
//! `SymbioteAnchor::deploy(...)`. A change to the contracts' ABI shows up here as a compile
//! error wherever the adapter uses what changed.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    SymbioteAnchor,
    "../contracts/artifacts/SymbioteAnchor.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    SymbioteBridge,
    "../contracts/artifacts/SymbioteBridge.json"
);

/// The EIP-712 messages, exactly as the contracts hash them (`ANCHOR_TYPEHASH`,
/// `RELEASE_TYPEHASH`, `RELAYER_SET_UPDATE_TYPEHASH`, `SET_LIMIT_TYPEHASH`,
/// `SET_PAUSED_TYPEHASH`, `CANCEL_QUEUED_TYPEHASH`): the struct and field names are part of the
/// signed type string.
pub mod typed {
    #![allow(missing_docs)]

    alloy::sol! {
        /// `Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)`
        #[derive(Debug, PartialEq, Eq)]
        struct Anchor {
            bytes32 symbiote;
            uint64 sequence;
            bytes32 root;
            uint64 fromHeight;
            uint64 toHeight;
        }

        /// `Release(uint256 nonce,address token,address recipient,uint256 amount)`
        #[derive(Debug, PartialEq, Eq)]
        struct Release {
            uint256 nonce;
            address token;
            address recipient;
            uint256 amount;
        }

        /// `RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)`, signed by
        /// a threshold of the current set of the contract it rotates (anchor or bridge);
        /// `nonce` is that contract's `relayerSetNonce`.
        #[derive(Debug, PartialEq, Eq)]
        struct RelayerSetUpdate {
            address[] relayers;
            uint256 threshold;
            uint256 nonce;
        }

        /// `SetLimit(address token,uint256 dailyCap,uint256 largeTransferThreshold,uint256 delaySeconds,uint256 nonce)`;
        /// `nonce` is the bridge's `adminNonce`.
        #[derive(Debug, PartialEq, Eq)]
        struct SetLimit {
            address token;
            uint256 dailyCap;
            uint256 largeTransferThreshold;
            uint256 delaySeconds;
            uint256 nonce;
        }

        /// `SetPaused(bool paused,uint256 nonce)`; `nonce` is the bridge's `adminNonce`.
        #[derive(Debug, PartialEq, Eq)]
        struct SetPaused {
            bool paused;
            uint256 nonce;
        }

        /// `CancelQueued(uint256 releaseNonce,uint256 nonce)`; `nonce` is the bridge's
        /// `adminNonce`.
        #[derive(Debug, PartialEq, Eq)]
        struct CancelQueued {
            uint256 releaseNonce;
            uint256 nonce;
        }
    }
}

/// The EIP-712 domain names the contracts pass to OpenZeppelin's `EIP712` (version "1").
pub const ANCHOR_DOMAIN_NAME: &str = "SymbioteAnchor";
/// See [`ANCHOR_DOMAIN_NAME`].
pub const BRIDGE_DOMAIN_NAME: &str = "SymbioteBridge";
/// The domain version of both contracts.
pub const DOMAIN_VERSION: &str = "1";
