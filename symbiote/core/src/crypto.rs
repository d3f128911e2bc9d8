//! ed25519 keys and signatures over domain-separated blake3 digests.
//!
//! A signature never covers raw message bytes: it covers `hash(domain, parts)`, so a signature
//! made for one kind of message (a vote, a scout report) can never be presented as a signature
//! on another kind.
//!
//! Verification rules: single signatures are checked with `verify_strict` (canonical `R`, no
//! small-order components); batches with ed25519-dalek's `verify_batch`. Everything that
//! passes the strict check passes the batch check, so a quorum certificate assembled from
//! individually checked votes always verifies. The batch check is not strict: it may accept a
//! signature whose `R` has a small-order component, which only the key's owner can produce, so
//! it never accepts a signature the key's owner did not make. Public keys are rejected at parse time if they
//! are not a canonical encoding of a curve point or have small order, so that two different
//! byte strings can never name the same validator.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::codec::{decode_hex_array, deserialize_hex_array, invalid_data};
use crate::hash::{Domain, Hash, hash};

/// Why a key or signature was rejected.
///
/// Every variant is about the data: checking it again gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The bytes are not a usable ed25519 public key.
    #[error("invalid public key: {reason}")]
    InvalidPublicKey {
        /// Which check failed.
        reason: &'static str,
    },
    /// The signature does not verify for this key and message.
    #[error("signature does not verify")]
    BadSignature,
    /// In a batch, the entry at `position` does not verify.
    #[error("signature at position {position} of the batch does not verify")]
    BadSignatureInBatch {
        /// Index of the first failing entry in the batch.
        position: usize,
    },
}

/// An ed25519 public key, known to be a canonically encoded point of large order.
///
/// Only its 32 bytes are kept, so that headers and validator sets stay small; the point is
/// decompressed again when a signature is verified. Keys order by their bytes: the canonical
/// order of a validator set. borsh encodes the 32 raw bytes; serde writes 64 hex digits. Both
/// re-validate on decode.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Validates 32 bytes as a public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| CryptoError::InvalidPublicKey {
            reason: "not a point on the curve",
        })?;
        if key.to_edwards().compress().as_bytes() != bytes {
            return Err(CryptoError::InvalidPublicKey {
                reason: "not the canonical encoding of its point",
            });
        }
        if key.is_weak() {
            return Err(CryptoError::InvalidPublicKey {
                reason: "small-order point",
            });
        }
        Ok(Self(*bytes))
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's 32 bytes, by value.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The decompressed key. Construction validated the bytes, so this fails only if that
    /// invariant were broken; verification then reports a bad signature.
    fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        VerifyingKey::from_bytes(&self.0).map_err(|_| CryptoError::BadSignature)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = CryptoError;

    /// Parses and validates 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_hex_array::<32>(s).map_err(|_| CryptoError::InvalidPublicKey {
            reason: "not 64 hex digits",
        })?;
        Self::from_bytes(&bytes)
    }
}

impl BorshSerialize for PublicKey {
    fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(self.as_bytes())
    }
}

impl BorshDeserialize for PublicKey {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let bytes = <[u8; 32]>::deserialize_reader(reader)?;
        Self::from_bytes(&bytes).map_err(invalid_data)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = deserialize_hex_array::<D, 32>(deserializer)?;
        Self::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature: 64 bytes, checked only when verified.
///
/// borsh encodes the 64 raw bytes; serde writes 128 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    /// The signature's bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    fn to_dalek(self) -> ed25519_dalek::Signature {
        ed25519_dalek::Signature::from_bytes(&self.0)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_hex_array::<D, 64>(deserializer).map(Signature)
    }
}

/// A signing key and its public key.
///
/// `Debug` prints only the public key; the secret never appears in logs or error messages.
/// The secret is zeroized when the keypair is dropped.
#[derive(Clone)]
pub struct Keypair {
    /// The ed25519 signing key (secret seed and its expansion).
    signing: SigningKey,
}

impl Keypair {
    /// A fresh keypair from the operating system's random number generator.
    pub fn generate() -> Self {
        Self {
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The keypair whose secret is `seed` (the 32-byte ed25519 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The secret seed, for writing the key to a protected file. Never log it.
    pub fn secret_seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `hash(domain, parts)`.
    pub fn sign(&self, domain: Domain, parts: &[&[u8]]) -> Signature {
        self.sign_digest(&hash(domain, parts))
    }

    /// Signs a digest already computed with [`hash`] in the message's domain.
    pub fn sign_digest(&self, digest: &Hash) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.signing.sign(digest.as_bytes()).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

/// Checks that `signature` is `public`'s signature on `hash(domain, parts)`.
pub fn verify(
    public: &PublicKey,
    domain: Domain,
    parts: &[&[u8]],
    signature: &Signature,
) -> Result<(), CryptoError> {
    verify_digest(public, &hash(domain, parts), signature)
}

/// Checks a signature on a digest already computed with [`hash`] in the message's domain.
pub fn verify_digest(
    public: &PublicKey,
    digest: &Hash,
    signature: &Signature,
) -> Result<(), CryptoError> {
    public
        .verifying_key()?
        .verify_strict(digest.as_bytes(), &signature.to_dalek())
        .map_err(|_| CryptoError::BadSignature)
}

/// Checks many (key, digest, signature) entries at once, faster per signature than checking
/// them one by one. On failure, names the first entry that fails on its own.
///
/// An empty batch verifies.
pub fn verify_batch(entries: &[(PublicKey, Hash, Signature)]) -> Result<(), CryptoError> {
    let messages: Vec<&[u8]> = entries
        .iter()
        .map(|(_, d, _)| d.as_bytes().as_slice())
        .collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        entries.iter().map(|(_, _, s)| s.to_dalek()).collect();
    let keys: Result<Vec<VerifyingKey>, CryptoError> =
        entries.iter().map(|(k, _, _)| k.verifying_key()).collect();
    if let Ok(keys) = keys
        && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    {
        return Ok(());
    }
    // The batch failed: find the culprit so that the error can name it. Anything that passes
    // the strict check also passes the batch, so some entry fails here.
    let position = entries
        .iter()
        .position(|(k, d, s)| verify_digest(k, d, s).is_err())
        .unwrap_or(0);
    Err(CryptoError::BadSignatureInBatch { position })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let kp = Keypair::from_seed(&[7; 32]);
        let sig = kp.sign(Domain::Vote, &[b"hello", b"world"]);
        assert!(verify(&kp.public(), Domain::Vote, &[b"helloworld"], &sig).is_ok());
        assert_eq!(
            verify(&kp.public(), Domain::Transaction, &[b"helloworld"], &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify(&kp.public(), Domain::Vote, &[b"hello"], &sig),
            Err(CryptoError::BadSignature)
        );
        let other = Keypair::generate();
        assert!(verify(&other.public(), Domain::Vote, &[b"helloworld"], &sig).is_err());
    }

    #[test]
    fn keypair_debug_hides_the_secret() {
        let kp = Keypair::from_seed(&[0xab; 32]);
        let text = format!("{kp:?}");
        assert!(!text.contains("abab"), "{text}");
        assert!(text.contains(&kp.public().to_string()));
        assert_eq!(Keypair::from_seed(&kp.secret_seed()).public(), kp.public());
    }

    #[test]
    fn public_keys_are_validated_on_every_path() {
        // y = 2 is not on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert!(PublicKey::from_bytes(&not_a_point).is_err());
        assert!(PublicKey::try_from_slice(&not_a_point).is_err());
        let json = format!("\"{}\"", hex::encode(not_a_point));
        assert!(serde_json::from_str::<PublicKey>(&json).is_err());
        assert!(hex::encode(not_a_point).parse::<PublicKey>().is_err());
        // The identity (y = 1) is a point of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity),
            Err(CryptoError::InvalidPublicKey {
                reason: "small-order point"
            })
        );
        let good = Keypair::from_seed(&[1; 32]).public();
        let bytes = borsh::to_vec(&good).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(PublicKey::try_from_slice(&bytes).unwrap(), good);
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), good);
    }

    #[test]
    fn non_canonical_key_encodings_are_rejected() {
        let good = Keypair::from_seed(&[3; 32]).public().to_bytes();
        // Flipping the sign bit of x gives a different but valid point, or an error: never the
        // same key under another encoding.
        let mut flipped = good;
        flipped[31] ^= 0x80;
        if let Ok(other) = PublicKey::from_bytes(&flipped) {
            assert_ne!(other.to_bytes(), good);
        }
        // y = p + 1 (not reduced) encodes the same point as y = 1 in a non-canonical way.
        let mut y_p_plus_1 = [0xff_u8; 32];
        y_p_plus_1[0] = 0xee;
        y_p_plus_1[31] = 0x7f;
        assert!(PublicKey::from_bytes(&y_p_plus_1).is_err());
    }

    #[test]
    fn batch_verification_names_the_bad_entry() {
        let keys: Vec<Keypair> = (0..5u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let mut entries: Vec<(PublicKey, Hash, Signature)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let digest = hash(Domain::Vote, &[&[i as u8]]);
                (k.public(), digest, k.sign_digest(&digest))
            })
            .collect();
        assert!(verify_batch(&entries).is_ok());
        assert!(verify_batch(&[]).is_ok());
        entries[3].2 = entries[2].2;
        assert_eq!(
            verify_batch(&entries),
            Err(CryptoError::BadSignatureInBatch { position: 3 })
        );
    }

    #[test]
    fn signatures_serialize_as_hex() {
        let sig = Keypair::from_seed(&[9; 32]).sign(Domain::Vote, &[b"m"]);
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(json.len(), 128 + 2);
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), sig);
        assert_eq!(borsh::to_vec(&sig).unwrap().len(), 64);
    }
}
