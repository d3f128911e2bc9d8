//! Transactions of the symbiote: what accounts, relayers and validators sign.
//!
//! A [`SignedTransaction`] is signed by its sender over the symbiote id, the sender's nonce and
//! the body, so it can be used once, on one symbiote only. What a transaction may do is decided
//! by [`crate::state::ChainState`]; this module only defines and signs them.
//!
//! Persisted format: these types are part of every block. Renaming or reordering enum variants
//! or fields changes the encoding and every hash built on it.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Versioned};
use crate::crypto::{self, CryptoError, Keypair, PublicKey, Signature};
use crate::hash::{Domain, Hash, hash};
use crate::host_keys::{HostKey, HostKeys, MAX_HOST_KEYS};
use crate::types::{
    Amount, Height, HostAddress, HostTxId, HostchainId, KeyFamily, Nonce, SymbioteId, TokenId,
};

/// The most entries one [`Transaction::Attest`], [`Transaction::ApproveReleases`] or
/// [`Transaction::HoldReleases`] may carry.
pub const MAX_BATCH_ENTRIES: usize = 256;
use crate::validators::ValidatorSet;

/// An asset held on the symbiote: its own native coin, or a token of a hostchain that was
/// bridged in (wrapped).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Asset {
    /// The symbiote's native coin (it cannot leave the symbiote).
    Native,
    /// A hostchain token held on the symbiote, minted from deposits and burnt for releases.
    Wrapped {
        /// The hostchain the token lives on.
        hostchain: HostchainId,
        /// The token on that hostchain (`native` for its native coin).
        token: TokenId,
    },
}

/// Identifies a bridge deposit on a hostchain: the transaction and the position of the event
/// (EVM log index, Solana instruction index, Bitcoin output index) inside it.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct DepositId {
    /// The hostchain the deposit was made on.
    pub hostchain: HostchainId,
    /// The hostchain transaction, in the hostchain's own text format.
    pub tx: HostTxId,
    /// The event's position inside the transaction.
    pub index: u32,
}

/// A bridge deposit seen on a hostchain, to be minted on the symbiote.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deposit {
    /// Which deposit: minted at most once.
    pub id: DepositId,
    /// The token deposited (`native` for the hostchain's native coin).
    pub token: TokenId,
    /// How much, in the token's smallest unit.
    pub amount: Amount,
    /// The symbiote account credited.
    pub recipient: PublicKey,
}

impl Deposit {
    /// The asset this deposit mints.
    pub fn asset(&self) -> Asset {
        Asset::Wrapped {
            hostchain: self.id.hostchain.clone(),
            token: self.token.clone(),
        }
    }

    /// What a relayer signs to attest that this deposit is final on its hostchain.
    pub fn attestation_digest(&self, symbiote: SymbioteId) -> Hash {
        hash(
            Domain::MintAttestation,
            &[symbiote.as_hash().as_bytes(), &borsh_bytes(self)],
        )
    }

    /// A relayer's attestation of this deposit.
    pub fn attest(&self, symbiote: SymbioteId, relayer: &Keypair) -> Signature {
        relayer.sign_digest(&self.attestation_digest(symbiote))
    }
}

/// One member of the relayer set.
///
/// Persisted format: since transaction format version 2 a member lists its hostchain keys by
/// family; version 1 had one EVM address (`evm_address`), which JSON such as a genesis file may
/// still give and which reads as the `evm` family's key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Relayer {
    /// The relayer's symbiote key: attests deposits and signs its symbiote transactions.
    pub key: PublicKey,
    /// The relayer's keys on hostchains, by family: what the hostchain contracts and vaults
    /// check its signatures against (an EVM address under `evm`...).
    pub hostchain_keys: HostKeys,
}

impl<'de> Deserialize<'de> for Relayer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            key: PublicKey,
            #[serde(default)]
            hostchain_keys: Option<HostKeys>,
            #[serde(default)]
            evm_address: Option<HostKey>,
        }
        let entry = Entry::deserialize(d)?;
        let hostchain_keys = match (entry.hostchain_keys, entry.evm_address) {
            (Some(keys), None) => keys,
            (None, Some(evm)) if evm.as_bytes().len() == 20 => HostKeys::new([(
                KeyFamily::new("evm").map_err(serde::de::Error::custom)?,
                evm,
            )])
            .map_err(serde::de::Error::custom)?,
            (None, Some(evm)) => {
                return Err(serde::de::Error::custom(format!(
                    "evm_address {evm} is not 20 bytes"
                )));
            }
            (None, None) => HostKeys::default(),
            (Some(_), Some(_)) => {
                return Err(serde::de::Error::custom(
                    "give hostchain_keys or the older evm_address, not both",
                ));
            }
        };
        Ok(Relayer {
            key: entry.key,
            hostchain_keys,
        })
    }
}

impl Relayer {
    /// A member with symbiote key `key` and one hostchain key per `(family, bytes)`.
    pub fn new<'a>(
        key: PublicKey,
        hostchain_keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Relayer, String> {
        let pairs = hostchain_keys
            .into_iter()
            .map(|(family, bytes)| {
                Ok((
                    KeyFamily::new(family).map_err(|e| e.to_string())?,
                    HostKey::new(bytes).map_err(|e| e.to_string())?,
                ))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Relayer {
            key,
            hostchain_keys: HostKeys::new(pairs)?,
        })
    }

    /// The relayer's key on hostchains of `family`.
    pub fn hostchain_key(&self, family: &KeyFamily) -> Option<&HostKey> {
        self.hostchain_keys.get(family)
    }
}

/// The relayers and how many of them must sign (mints here; anchors and releases on the
/// hostchain contracts).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RelayerSet {
    /// The members, in the order their indices refer to.
    pub members: Vec<Relayer>,
    /// How many distinct members must sign.
    pub threshold: u16,
}

impl RelayerSet {
    /// Checks the set: members non-empty with distinct symbiote keys, every member listing
    /// hostchain keys of the same families (at most [`MAX_HOST_KEYS`]), no hostchain key used
    /// by two members in one family, and a threshold between 1 and the number of members.
    ///
    /// Whether a key is valid for its family (an EVM address is 20 bytes) is for the family's
    /// adapters to say; a member whose key they refuse is named by the relayers in their logs.
    pub fn validate(&self) -> Result<(), String> {
        if self.members.is_empty() {
            return Err("the relayer set is empty".into());
        }
        if self.members.len() > usize::from(u16::MAX) {
            return Err(format!("{} relayers is too many", self.members.len()));
        }
        let keys: BTreeSet<_> = self.members.iter().map(|r| r.key).collect();
        if keys.len() != self.members.len() {
            return Err("the relayer set lists a symbiote key twice".into());
        }
        let families: Vec<_> = self
            .members
            .iter()
            .map(|r| r.hostchain_keys.iter().map(|(f, _)| f).collect::<Vec<_>>())
            .collect();
        if let Some(first) = families.first()
            && families.iter().any(|f| f != first)
        {
            return Err("every member must list hostchain keys of the same families".into());
        }
        if families.first().is_some_and(|f| f.len() > MAX_HOST_KEYS) {
            return Err(format!(
                "more than {MAX_HOST_KEYS} hostchain keys per member"
            ));
        }
        let mut hostchain_keys = BTreeSet::new();
        for (family, key) in self.members.iter().flat_map(|r| r.hostchain_keys.iter()) {
            if !hostchain_keys.insert((family, key)) {
                return Err(format!(
                    "the relayer set lists the {family} key {key} for two members"
                ));
            }
        }
        if self.threshold == 0 || usize::from(self.threshold) > self.members.len() {
            return Err(format!(
                "threshold {} is not between 1 and the {} members",
                self.threshold,
                self.members.len()
            ));
        }
        Ok(())
    }

    /// The member at `index`.
    pub fn get(&self, index: u16) -> Option<&Relayer> {
        self.members.get(usize::from(index))
    }

    /// The index of the member with symbiote key `key`.
    pub fn index_of(&self, key: &PublicKey) -> Option<u16> {
        self.members
            .iter()
            .position(|r| &r.key == key)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// A digest of the set, for comparisons and for hostchain contracts.
    pub fn hash(&self) -> Hash {
        hash(Domain::RelayerSet, &[&borsh_bytes(self)])
    }
}

/// A change that governance can make, effective from an activation height.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GovernanceChange {
    /// The hostchains the symbiote anchors into (and bridges with).
    Hostchains(Vec<HostchainId>),
    /// The relayer set, with its keys and threshold.
    Relayers(RelayerSet),
    /// The validator set that signs blocks.
    Validators(ValidatorSet),
    /// Lifts the hold on withdrawal order `nonce`: the relayers may release it after all.
    ReleaseHold(Nonce),
    /// Refunds held withdrawal order `nonce` to its burner on the symbiote; it is never
    /// released on the hostchain.
    RefundHold(Nonce),
}

/// The most bytes a relayer's hostchain signature in a [`ReleaseApproval`] may have.
pub const MAX_RELEASE_SIGNATURE_LEN: usize = 128;

/// A relayer's approval of one withdrawal order's release, published on the symbiote so that
/// whichever relayer submits the release can collect a threshold of them from state.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ReleaseApproval {
    /// The withdrawal order.
    pub nonce: Nonce,
    /// The relayer's signature of the release in the hostchain's own scheme (the bridge
    /// contract's EIP-712 digest on EVM chains); empty where the hostchain needs none.
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
    /// The hash of the relayer's scout report that found the destination clean; `None` when
    /// governance lifted a hold on the order before this relayer scouted it.
    pub report: Option<Hash>,
}

/// A relayer's hold of one withdrawal order: its scout found the destination suspicious or
/// malicious. Only governance lifts a hold ([`GovernanceChange::ReleaseHold`]) or refunds the
/// order ([`GovernanceChange::RefundHold`]).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct HoldNotice {
    /// The withdrawal order.
    pub nonce: Nonce,
    /// The hash of the signed scout report with the evidence.
    pub report: Hash,
    /// The report's verdict: malicious (`true`) or suspicious.
    pub malicious: bool,
}

/// Identifies a governance proposal (sequential, from 1).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct ProposalId(pub u64);

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transaction {
    /// Moves `amount` of `asset` from the sender to `to`.
    Transfer {
        /// The receiving account.
        to: PublicKey,
        /// What is moved.
        asset: Asset,
        /// How much.
        amount: Amount,
    },
    /// Credits a hostchain deposit, attested by a threshold of the relayer set.
    Mint {
        /// The deposit.
        deposit: Deposit,
        /// (relayer index, signature over [`Deposit::attestation_digest`]), indices increasing.
        attestations: Vec<(u16, Signature)>,
    },
    /// Burns wrapped tokens and orders their release on the hostchain.
    Burn {
        /// The hostchain to release on.
        hostchain: HostchainId,
        /// The token on that hostchain.
        token: TokenId,
        /// How much.
        amount: Amount,
        /// The receiving address on the hostchain.
        destination: HostAddress,
    },
    /// A validator proposes a governance change (and votes for it).
    Propose {
        /// The change.
        change: GovernanceChange,
        /// The first height at which the change is in force.
        activation: Height,
    },
    /// A validator votes on an open proposal.
    Vote {
        /// The proposal.
        proposal: ProposalId,
        /// For or against.
        approve: bool,
    },
    /// A relayer attests deposits it saw final on their hostchains. A deposit is minted once a
    /// threshold of the relayer set has attested the same deposit; attesting one that is
    /// already minted, or again, changes nothing.
    Attest {
        /// The deposits, each with its full content.
        deposits: Vec<Deposit>,
    },
    /// A relayer approves the release of withdrawal orders.
    ApproveReleases {
        /// One approval per order.
        approvals: Vec<ReleaseApproval>,
    },
    /// A relayer's scout holds withdrawal orders.
    HoldReleases {
        /// One hold per order.
        holds: Vec<HoldNotice>,
    },
    /// A relayer (of the current or an earlier relayer set) publishes its signatures of
    /// hostchain messages that need a threshold of relayers (a relayer-set rotation of a
    /// hostchain contract), so that whoever submits collects them from state.
    Cosign {
        /// One signature per subject.
        entries: Vec<Cosignature>,
    },
}

/// A relayer's signature of a hostchain message, by the message's digest.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Cosignature {
    /// The digest the hostchain checks (an EIP-712 digest on EVM chains).
    pub subject: Hash,
    /// The signature in the hostchain's scheme.
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
}

/// A transaction with its sender, nonce and the sender's signature.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    /// The signing account.
    pub sender: PublicKey,
    /// The sender's next nonce: each nonce is accepted once, in order.
    pub nonce: Nonce,
    /// What the transaction does.
    pub body: Transaction,
    /// The sender's signature over [`SignedTransaction::signing_digest`].
    pub signature: Signature,
}

/// Version 2: relayer-set members list hostchain keys by family ([`Relayer`]) and approvals may
/// name no report ([`ReleaseApproval::report`]).
pub const TRANSACTION_FORMAT_VERSION: u8 = 2;

impl Versioned for SignedTransaction {
    const VERSION: u8 = TRANSACTION_FORMAT_VERSION;
}

impl Canonical for SignedTransaction {
    const KIND: &'static str = "transaction";
    const MAX_ENCODED_LEN: usize = 64 * 1024;
    const VERSION: u8 = TRANSACTION_FORMAT_VERSION;
}

impl SignedTransaction {
    /// Signs `body` as `keypair`'s transaction number `nonce` on `symbiote`.
    pub fn sign(keypair: &Keypair, symbiote: SymbioteId, nonce: Nonce, body: Transaction) -> Self {
        let sender = keypair.public();
        let digest = signing_digest(symbiote, &sender, nonce, &body);
        SignedTransaction {
            sender,
            nonce,
            signature: keypair.sign_digest(&digest),
            body,
        }
    }

    /// What the sender signs: the transaction format version, the symbiote, the sender, the
    /// nonce and the body.
    pub fn signing_digest(&self, symbiote: SymbioteId) -> Hash {
        signing_digest(symbiote, &self.sender, self.nonce, &self.body)
    }

    /// Checks the sender's signature for `symbiote`.
    pub fn verify_signature(&self, symbiote: SymbioteId) -> Result<(), CryptoError> {
        crypto::verify_digest(
            &self.sender,
            &self.signing_digest(symbiote),
            &self.signature,
        )
    }

    /// The transaction's id: the hash of its canonical encoding.
    pub fn hash(&self) -> Hash {
        hash(Domain::Transaction, &[&borsh_bytes(self)])
    }
}

fn signing_digest(
    symbiote: SymbioteId,
    sender: &PublicKey,
    nonce: Nonce,
    body: &Transaction,
) -> Hash {
    hash(
        Domain::TransactionSignature,
        &[
            &[TRANSACTION_FORMAT_VERSION],
            symbiote.as_hash().as_bytes(),
            sender.as_bytes(),
            &nonce.get().to_le_bytes(),
            &borsh_bytes(body),
        ],
    )
}

/// The borsh encoding of a value that cannot fail to encode (no maps with fallible keys, no
/// I/O): writing into a `Vec` only fails for types whose encoder fails by design.
pub(crate) fn borsh_bytes<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).unwrap_or_default()
}
