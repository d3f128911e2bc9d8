//! The state's entries: the key of each, the type of its value, and how both are encoded.
//!
//! An entry's key is a [`StateKey`]; the tree stores it under `blake3(state-key prefix ||
//! borsh(key))`. Its value is the borsh encoding of the type [`StateKey`] names. Both encodings
//! are part of every state root: renaming or reordering variants or fields changes them, so the
//! entries' format is versioned by [`STATE_FORMAT_VERSION`], which the [`Meta`] entry records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::KeyHash;
use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::governance::{Proposal, SetHistory};
use crate::hash::{Domain, Hash, hash};
use crate::state::{Account, PendingMint, WithdrawalOrder};
use crate::tx::{DepositId, ProposalId, borsh_bytes};
use crate::types::{Height, Nonce, SymbioteId};

/// The format of the state's keys and values. A state whose [`Meta`] names another format was
/// written by a node this code cannot read.
pub const STATE_FORMAT_VERSION: u8 = 1;

/// The key of one state entry.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum StateKey {
    /// The chain's counters and open proposals: a [`Meta`].
    Meta,
    /// The validator, hostchain and relayer sets, each with its history: a [`SetHistory`].
    Sets,
    /// An account's balances and nonce: an [`Account`] (absent: no balance, nonce 0).
    Account(PublicKey),
    /// A minted deposit: the [`Height`] of the block that minted it (absent: not minted).
    Minted(DepositId),
    /// The attestations of a deposit not minted yet: a list of [`PendingMint`].
    PendingMint(DepositId),
    /// Relayers' signatures of one hostchain message: relayer key to signature.
    Cosignatures(Hash),
    /// A withdrawal order with its approvals and holds: a [`WithdrawalOrder`].
    Withdrawal(Nonce),
    /// A governance proposal with its votes: a [`Proposal`].
    Proposal(ProposalId),
}

impl StateKey {
    /// The hash the tree stores the entry under.
    pub fn key_hash(&self) -> KeyHash {
        KeyHash(hash(Domain::StateKey, &[&borsh_bytes(self)]).0)
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateKey::Meta => write!(f, "the chain's counters"),
            StateKey::Sets => write!(f, "the validator, hostchain and relayer sets"),
            StateKey::Account(key) => write!(f, "account {key}"),
            StateKey::Minted(id) => {
                write!(f, "minted deposit {}:{}:{}", id.hostchain, id.tx, id.index)
            }
            StateKey::PendingMint(id) => write!(
                f,
                "attestations of deposit {}:{}:{}",
                id.hostchain, id.tx, id.index
            ),
            StateKey::Cosignatures(subject) => write!(f, "cosignatures of {subject}"),
            StateKey::Withdrawal(nonce) => write!(f, "withdrawal order {nonce}"),
            StateKey::Proposal(id) => write!(f, "proposal {}", id.0),
        }
    }
}

/// The chain's counters and its open proposals, stored under [`StateKey::Meta`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Meta {
    /// [`STATE_FORMAT_VERSION`] of the node that wrote it.
    pub format: u8,
    /// Which symbiote.
    pub symbiote: SymbioteId,
    /// The last block applied (genesis: 0).
    pub height: Height,
    /// The nonce of the next withdrawal order (orders are numbered from 1 without gaps).
    pub next_withdrawal: Nonce,
    /// The id of the next proposal (proposals are numbered from 1 without gaps).
    pub next_proposal: ProposalId,
    /// Proposals that are open or approved and not yet in force: those each block end
    /// re-counts.
    pub open_proposals: BTreeSet<ProposalId>,
}

/// One entry's value, decoded by the kind of its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    Meta(Meta),
    Sets(SetHistory),
    Account(Account),
    Minted(Height),
    PendingMint(Vec<PendingMint>),
    Cosignatures(BTreeMap<PublicKey, Vec<u8>>),
    Withdrawal(WithdrawalOrder),
    Proposal(Proposal),
}

impl Entry {
    /// Decodes the value stored under `key`. Trailing bytes are refused.
    pub fn decode(key: &StateKey, bytes: &[u8]) -> Result<Entry, String> {
        fn value<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, String> {
            borsh::from_slice(bytes).map_err(|e| e.to_string())
        }
        Ok(match key {
            StateKey::Meta => Entry::Meta(value(bytes)?),
            StateKey::Sets => Entry::Sets(value(bytes)?),
            StateKey::Account(_) => Entry::Account(value(bytes)?),
            StateKey::Minted(_) => Entry::Minted(value(bytes)?),
            StateKey::PendingMint(_) => Entry::PendingMint(value(bytes)?),
            StateKey::Cosignatures(_) => Entry::Cosignatures(value(bytes)?),
            StateKey::Withdrawal(_) => Entry::Withdrawal(value(bytes)?),
            StateKey::Proposal(_) => Entry::Proposal(value(bytes)?),
        })
    }
}

/// Decodes the value of `key` as `T`, naming the entry when it is corrupt.
pub(crate) fn decode_value<T: BorshDeserialize>(
    key: &StateKey,
    bytes: &[u8],
) -> Result<T, super::StorageError> {
    borsh::from_slice(bytes).map_err(|e| super::StorageError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Parses an entry's name as a user writes it: `meta`, `sets`, `account:<key hex>`,
/// `minted:<hostchain>:<tx>:<index>`, `pending:<hostchain>:<tx>:<index>`,
/// `cosignatures:<subject hex>`, `withdrawal:<nonce>`, `proposal:<id>`. A hostchain
/// transaction id may itself contain `:`; the index is after the last one.
impl std::str::FromStr for StateKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        let number = |what: &str| {
            rest.parse::<u64>()
                .map_err(|e| format!("{what} in {text:?}: {e}"))
        };
        let deposit = || -> Result<DepositId, String> {
            let (hostchain, tail) = rest
                .split_once(':')
                .ok_or_else(|| format!("{text:?}: expected {kind}:<hostchain>:<tx>:<index>"))?;
            let (tx, index) = tail
                .rsplit_once(':')
                .ok_or_else(|| format!("{text:?}: expected {kind}:<hostchain>:<tx>:<index>"))?;
            Ok(DepositId {
                hostchain: crate::types::HostchainId::new(hostchain)
                    .map_err(|e| format!("hostchain in {text:?}: {e}"))?,
                tx: crate::types::HostTxId::new(tx).map_err(|e| format!("tx in {text:?}: {e}"))?,
                index: index
                    .parse()
                    .map_err(|e| format!("index in {text:?}: {e}"))?,
            })
        };
        let key = match kind {
            "meta" if rest.is_empty() => StateKey::Meta,
            "sets" if rest.is_empty() => StateKey::Sets,
            "account" => StateKey::Account(
                rest.parse()
                    .map_err(|e| format!("account key in {text:?}: {e}"))?,
            ),
            "minted" => StateKey::Minted(deposit()?),
            "pending" => StateKey::PendingMint(deposit()?),
            "cosignatures" => StateKey::Cosignatures(
                rest.parse()
                    .map_err(|e| format!("subject in {text:?}: {e}"))?,
            ),
            "withdrawal" => StateKey::Withdrawal(Nonce::new(number("nonce")?)),
            "proposal" => StateKey::Proposal(ProposalId(number("proposal id")?)),
            _ => {
                return Err(format!(
                    "{text:?} names no state entry; one of meta, sets, account:<key>, \
                     minted:<hostchain>:<tx>:<index>, pending:<hostchain>:<tx>:<index>, \
                     cosignatures:<subject>, withdrawal:<nonce>, proposal:<id>"
                ));
            }
        };
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_parse_and_bad_ones_say_why() {
        assert_eq!("meta".parse::<StateKey>(), Ok(StateKey::Meta));
        assert_eq!(
            "withdrawal:42".parse::<StateKey>(),
            Ok(StateKey::Withdrawal(Nonce::new(42)))
        );
        let minted: StateKey = "minted:evm-1:0xab:3".parse().unwrap();
        match minted {
            StateKey::Minted(id) => {
                assert_eq!(id.hostchain.as_str(), "evm-1");
                assert_eq!(id.tx.as_str(), "0xab");
                assert_eq!(id.index, 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            "withdrawal:x"
                .parse::<StateKey>()
                .unwrap_err()
                .contains("nonce")
        );
        assert!(
            "nothing"
                .parse::<StateKey>()
                .unwrap_err()
                .contains("names no")
        );
        assert!(
            "minted:evm-1"
                .parse::<StateKey>()
                .unwrap_err()
                .contains("expected")
        );
        assert!("meta:1".parse::<StateKey>().is_err());
    }
}
