//! The relayer's EVM key (secp256k1), read from a file or an environment variable as 64 hex
//! digits (with or without `0x`). It pays gas, signs transactions, and signs the EIP-712
//! messages the contracts check. Errors name where the key was read from, never the key, and
//! `Debug` shows only the address.

use std::fmt;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

use super::config::KeySource;

/// The relayer's key.
#[derive(Clone)]
pub struct RelayerKey {
    /// The key; never printed.
    signer: PrivateKeySigner,
}

impl fmt::Debug for RelayerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayerKey")
            .field("address", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl RelayerKey {
    /// Reads the key from where the configuration says it is.
    pub fn load(source: &KeySource) -> Result<RelayerKey, String> {
        let setting = source.setting("key");
        let secret = source.read().map_err(|e| format!("{setting}: {e}"))?;
        Self::parse(secret.expose(), &format!("{setting} {}", secret.origin()))
    }

    /// Parses 64 hex digits (optionally `0x`-prefixed, surrounding whitespace ignored).
    pub fn parse(text: &str, origin: &str) -> Result<RelayerKey, String> {
        let digits = text.trim();
        let digits = digits.strip_prefix("0x").unwrap_or(digits);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes)
            .map_err(|_| format!("{origin} does not hold 64 hex digits (a secp256k1 key)"))?;
        let signer = PrivateKeySigner::from_bytes(&B256::from(bytes))
            .map_err(|_| format!("{origin} does not hold a valid secp256k1 private key"))?;
        Ok(RelayerKey { signer })
    }

    /// The key from an existing signer (tests and tools).
    pub fn from_signer(signer: PrivateKeySigner) -> RelayerKey {
        RelayerKey { signer }
    }

    /// The relayer's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// A 65-byte signature (r, s, v with v = 27 or 28, as `ecrecover` and OpenZeppelin's ECDSA
    /// expect) over a 32-byte digest. The s value is the low one, as OpenZeppelin requires.
    pub fn sign_digest(&self, digest: &B256) -> Result<[u8; 65], String> {
        self.signer
            .sign_hash_sync(digest)
            .map(|signature| signature.as_bytes())
            .map_err(|e| format!("signing failed: {e}"))
    }

    /// The wallet that signs this relayer's transactions.
    pub fn wallet(&self) -> EthereumWallet {
        EthereumWallet::from(self.signer.clone())
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Signature;

    use super::*;

    #[test]
    fn parses_hex_with_or_without_prefix_and_signs_recoverably() {
        // anvil's first development key.
        let text = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n";
        let key = RelayerKey::parse(text, "test").unwrap();
        let expected: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .unwrap();
        assert_eq!(key.address(), expected);
        assert_eq!(
            RelayerKey::parse(text.trim().trim_start_matches("0x"), "test")
                .unwrap()
                .address(),
            expected
        );
        let digest = B256::repeat_byte(7);
        let bytes = key.sign_digest(&digest).unwrap();
        assert!(bytes[64] == 27 || bytes[64] == 28);
        let signature = Signature::try_from(&bytes[..]).unwrap();
        assert_eq!(
            signature.recover_address_from_prehash(&digest).unwrap(),
            expected
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let secret = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff8";
        let err = RelayerKey::parse(secret, "key file k.hex").unwrap_err();
        assert!(err.contains("k.hex") && !err.contains(secret), "{err}");
        let err = RelayerKey::parse(&"0".repeat(64), "key file k.hex").unwrap_err();
        assert!(err.contains("valid"), "{err}");
        let key = RelayerKey::parse(&format!("{secret}0"), "x").unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains(secret), "{debug}");
    }
}
