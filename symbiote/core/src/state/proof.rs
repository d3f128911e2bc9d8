//! Proofs of state entries: that under a given state root, an entry has a given value, or none.
//!
//! A [`StateProof`] names the entry's key, carries its value (borsh, as stored) or none, and the
//! tree path from the entry's leaf (or the empty slot or other leaf where it would be) to the
//! root. Checking it needs only the state root of a header the reader has verified (with the
//! light client), never the node that served it. The format is documented in
//! `docs/proof-format.md`.

use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::proof::SparseMerkleProof;
use jmt::{RootHash, Version};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::Hash;
use crate::state::keys::{Entry, StateKey, decode_value};
use crate::state::tree::{StateHasher, StateReader, StorageError, Tree, TreeAdapter, root_of};

/// The longest encoded tree path accepted: 256 siblings of 65 bytes, the leaf, the lengths.
pub const MAX_PATH_BYTES: usize = 256 * 65 + 128;

/// The longest entry value accepted in a proof.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

/// Why a state proof does not prove what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateProofError {
    #[error("{key}: the proof does not lead to state root {root}: {reason}")]
    WrongRoot {
        key: String,
        root: Hash,
        reason: String,
    },
    #[error("{key}: the value does not decode: {reason}")]
    BadValue { key: String, reason: String },
    #[error("{key}: the value is {len} bytes, more than {MAX_VALUE_BYTES}")]
    ValueTooLong { key: String, len: usize },
}

/// A tree path, borsh-encoded jmt `SparseMerkleProof` (hex in JSON).
#[derive(Clone, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct TreePath(SparseMerkleProof<StateHasher>);

impl fmt::Debug for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TreePath({} bytes)",
            borsh::to_vec(self).map_or(0, |b| b.len())
        )
    }
}

impl Serialize for TreePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = borsh::to_vec(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&hex::encode(bytes))
    }
}

impl<'de> Deserialize<'de> for TreePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        if text.len() > 2 * MAX_PATH_BYTES {
            return Err(serde::de::Error::custom(format!(
                "a tree path of {} hex digits is longer than {}",
                text.len(),
                2 * MAX_PATH_BYTES
            )));
        }
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let proof = borsh::from_slice(&bytes)
            .map_err(|e| serde::de::Error::custom(format!("tree path: {e}")))?;
        Ok(TreePath(proof))
    }
}

/// That entry `key` has `value` (or none) under some state root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BorshSerialize, BorshDeserialize)]
pub struct StateProof {
    /// Which entry.
    pub key: StateKey,
    /// Its value as stored (the borsh encoding of the type the key names), or none if the state
    /// has no such entry.
    #[serde(with = "hex_option")]
    pub value: Option<Vec<u8>>,
    /// The tree path from the entry to the root.
    pub path: TreePath,
}

impl StateProof {
    /// Checks the proof against `root` (the state root of a verified header) and decodes the
    /// value. `Ok(None)`: the state under `root` has no such entry.
    pub fn verify(&self, root: &Hash) -> Result<Option<Entry>, StateProofError> {
        let key = || self.key.to_string();
        if let Some(value) = &self.value
            && value.len() > MAX_VALUE_BYTES
        {
            return Err(StateProofError::ValueTooLong {
                key: key(),
                len: value.len(),
            });
        }
        self.path
            .0
            .verify(RootHash(root.0), self.key.key_hash(), self.value.as_ref())
            .map_err(|e| StateProofError::WrongRoot {
                key: key(),
                root: *root,
                reason: e.to_string(),
            })?;
        self.value
            .as_ref()
            .map(|bytes| Entry::decode(&self.key, bytes))
            .transpose()
            .map_err(|reason| StateProofError::BadValue { key: key(), reason })
    }

    /// Checks the proof and decodes the value as `T` (which must be the type the key names).
    pub fn verify_as<T: BorshDeserialize>(
        &self,
        root: &Hash,
    ) -> Result<Option<T>, StateProofError> {
        self.verify(root)?;
        self.value
            .as_ref()
            .map(|bytes| decode_value(&self.key, bytes))
            .transpose()
            .map_err(|e| StateProofError::BadValue {
                key: self.key.to_string(),
                reason: e.to_string(),
            })
    }
}

/// Proves entry `key` in version `version` of the tree `reader` holds.
pub fn prove(
    reader: &dyn StateReader,
    version: Version,
    key: &StateKey,
) -> Result<StateProof, StorageError> {
    root_of(reader, version)?;
    let adapter = TreeAdapter(reader);
    let (value, proof) = Tree::new(&adapter)
        .get_with_proof(key.key_hash(), version)
        .map_err(StorageError::tree)?;
    Ok(StateProof {
        key: key.clone(),
        value,
        path: TreePath(proof),
    })
}

mod hex_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            if t.len() > 2 * super::MAX_VALUE_BYTES {
                return Err(serde::de::Error::custom(format!(
                    "a value of {} hex digits is longer than {}",
                    t.len(),
                    2 * super::MAX_VALUE_BYTES
                )));
            }
            hex::decode(t).map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}
