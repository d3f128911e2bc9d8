//! A relayer's keys on hostchains: one per key family (`evm`, `solana`...), in that family's
//! own bytes. What a family's key means is for its adapters; the symbiote only keeps them in
//! the relayer set, where hostchain contracts and vaults find the keys they check.

use std::collections::BTreeMap;
use std::fmt;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::invalid_data;
use crate::types::{KeyFamily, TypeError};

/// Longest hostchain key, in bytes.
pub const MAX_HOST_KEY_LEN: usize = 64;

/// A relayer's public key (or address) on one family of hostchains, in that family's own bytes
/// (a 20-byte EVM address, a 32-byte Solana public key): what the hostchain's contracts or
/// vaults check the relayer's signatures against. Its meaning is for the family's adapter; 1 to
/// [`MAX_HOST_KEY_LEN`] bytes, hex in JSON.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostKey(Vec<u8>);

impl HostKey {
    /// Checks the length.
    pub fn new(bytes: &[u8]) -> Result<HostKey, TypeError> {
        if bytes.is_empty() || bytes.len() > MAX_HOST_KEY_LEN {
            return Err(TypeError::InvalidHostKey { len: bytes.len() });
        }
        Ok(HostKey(bytes.to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(&self.0))
    }
}

impl BorshSerialize for HostKey {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl BorshDeserialize for HostKey {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let bytes = Vec::<u8>::deserialize_reader(reader)?;
        HostKey::new(&bytes).map_err(invalid_data)
    }
}

impl TryFrom<String> for HostKey {
    type Error = String;

    /// Hex (`0x` optional), as JSON writes a key.
    fn try_from(text: String) -> Result<HostKey, String> {
        let digits = text.strip_prefix("0x").unwrap_or(&text);
        let bytes = hex::decode(digits).map_err(|e| format!("hostchain key {text:?}: {e}"))?;
        HostKey::new(&bytes).map_err(|e| e.to_string())
    }
}

impl From<HostKey> for String {
    fn from(key: HostKey) -> String {
        key.to_string()
    }
}

/// A relayer's keys on hostchains, by key family: at most one key per family, listed in
/// increasing family order (the one canonical encoding).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostKeys(BTreeMap<KeyFamily, HostKey>);

/// The most hostchain keys one relayer lists.
pub const MAX_HOST_KEYS: usize = 16;

impl HostKeys {
    /// Keys from `(family, key)` pairs; a family given twice is refused.
    pub fn new(pairs: impl IntoIterator<Item = (KeyFamily, HostKey)>) -> Result<HostKeys, String> {
        let mut map = BTreeMap::new();
        for (family, key) in pairs {
            if map.insert(family.clone(), key).is_some() {
                return Err(format!("key family {family} is given twice"));
            }
        }
        if map.len() > MAX_HOST_KEYS {
            return Err(format!("{} hostchain keys is too many", map.len()));
        }
        Ok(HostKeys(map))
    }

    /// The key of `family`.
    pub fn get(&self, family: &KeyFamily) -> Option<&HostKey> {
        self.0.get(family)
    }

    /// Every (family, key), in family order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyFamily, &HostKey)> {
        self.0.iter()
    }
}

impl BorshSerialize for HostKeys {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&self.0, writer)
    }
}

impl BorshDeserialize for HostKeys {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let pairs = Vec::<(KeyFamily, HostKey)>::deserialize_reader(reader)?;
        if pairs.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(invalid_data(
                "hostchain keys not in strictly increasing family order",
            ));
        }
        HostKeys::new(pairs).map_err(invalid_data)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::crypto::Keypair;
    use crate::tx::{Relayer, RelayerSet};

    fn family(name: &str) -> KeyFamily {
        KeyFamily::new(name).unwrap()
    }

    #[test]
    fn host_keys_have_one_encoding() {
        let keys = HostKeys::new([
            (family("solana"), HostKey::new(&[2; 32]).unwrap()),
            (family("evm"), HostKey::new(&[1; 20]).unwrap()),
        ])
        .unwrap();
        let bytes = borsh::to_vec(&keys).unwrap();
        assert_eq!(borsh::from_slice::<HostKeys>(&bytes).unwrap(), keys);
        // The same pairs out of order, or a family twice, are refused.
        let pairs = |order: [(&str, u8); 2]| {
            borsh::to_vec(
                &order
                    .iter()
                    .map(|(f, b)| (family(f), HostKey::new(&[*b; 20]).unwrap()))
                    .collect::<Vec<_>>(),
            )
            .unwrap()
        };
        assert!(borsh::from_slice::<HostKeys>(&pairs([("solana", 2), ("evm", 1)])).is_err());
        assert!(borsh::from_slice::<HostKeys>(&pairs([("evm", 1), ("evm", 2)])).is_err());
        assert!(HostKey::new(&[]).is_err());
        assert!(HostKey::new(&[0; 65]).is_err());
    }

    #[test]
    fn relayers_read_the_earlier_evm_address_and_list_the_same_families() {
        let key = Keypair::from_seed(&[3; 32]).public();
        let legacy = format!(r#"{{"key":"{key}","evm_address":"0x{}"}}"#, "11".repeat(20));
        let relayer: Relayer = serde_json::from_str(&legacy).unwrap();
        assert_eq!(
            relayer.hostchain_key(&family("evm")).unwrap().as_bytes(),
            &[0x11; 20]
        );
        let short = format!(r#"{{"key":"{key}","evm_address":"0x1111"}}"#);
        assert!(serde_json::from_str::<Relayer>(&short).is_err());
        let both = format!(
            r#"{{"key":"{key}","evm_address":"0x{}","hostchain_keys":{{}}}}"#,
            "11".repeat(20)
        );
        assert!(serde_json::from_str::<Relayer>(&both).is_err());

        let member = |seed: u8, keys: &[(&str, &[u8])]| {
            Relayer::new(
                Keypair::from_seed(&[seed; 32]).public(),
                keys.iter().copied(),
            )
            .unwrap()
        };
        let set = |members| RelayerSet {
            members,
            threshold: 1,
        };
        let evm = |seed: u8, key: u8| member(seed, &[("evm", &[key; 20])]);
        assert!(set(vec![evm(1, 1), evm(2, 2)]).validate().is_ok());
        let mixed = set(vec![evm(1, 1), member(2, &[("solana", &[2; 32])])]);
        let err = mixed.validate().unwrap_err();
        assert!(err.contains("same families"), "{err}");
        let err = set(vec![evm(1, 1), evm(2, 1)]).validate().unwrap_err();
        assert!(err.contains("two members"), "{err}");
    }
}
