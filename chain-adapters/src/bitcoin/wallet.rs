//! The relayer's own key and the anchor transactions it signs: no node wallet is involved.
//!
//! The key is a secp256k1 secret read from a file or an environment variable, as 64 hex digits
//! or WIF. It pays to and spends from one P2WPKH address. [`Signer`] has a hand-written `Debug`
//! and its errors never quote what was read, so the key cannot reach a log line.
//!
//! An anchor transaction is: the inputs chosen by [`super::coins`], each with nSequence
//! `0xFFFFFFFD` (BIP125 replaceable); output 0 an `OP_RETURN` carrying exactly the anchor
//! payload; output 1 the change back to our address.

use std::fmt;

use bitcoin::absolute::LockTime;
use bitcoin::ecdsa;
use bitcoin::hashes::Hash as _;
use bitcoin::hex::FromHex;
use bitcoin::script::PushBytesBuf;
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, CompressedPublicKey, Network, NetworkKind, OutPoint, PrivateKey, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Witness,
};

use super::config::KeySource;
use crate::error::ErrorKind;

/// Index of the `OP_RETURN` output in an anchor transaction.
pub const PAYLOAD_VOUT: u32 = 0;
/// Index of the change output in an anchor transaction.
pub const CHANGE_VOUT: u32 = 1;
/// Blocks before a coinbase output may be spent (consensus).
pub const COINBASE_MATURITY: u64 = 100;
/// The longest witness signature `sign_ecdsa_low_r` produces: a DER signature with a low R and
/// a low S is at most 70 bytes, plus the sighash byte. Size estimates use it, so the signed
/// transaction is never larger than estimated.
const MAX_SIGNATURE_LEN: usize = 71;
/// A compressed public key's length.
const PUBLIC_KEY_LEN: usize = 33;

/// What went wrong with the key or with signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The key could not be read or is not usable. `origin` names the config key and the file
    /// or variable, never the content.
    #[error("{origin}: {reason}")]
    Key {
        /// E.g. "`key_file` /etc/relayer/btc.key".
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The change would be below the dust limit: the inputs do not cover the fee.
    #[error("inputs of {inputs} do not cover a fee of {fee} and a change output of {dust}")]
    NotEnough {
        /// The inputs' total.
        inputs: Amount,
        /// The fee.
        fee: Amount,
        /// The smallest change output relay policy accepts.
        dust: Amount,
    },
    /// Signing failed (an input that is not ours, an index out of range).
    #[error("cannot sign input {index}: {reason}")]
    Sign {
        /// Which input.
        index: usize,
        /// Why.
        reason: String,
    },
}

impl WalletError {
    /// How the caller should react.
    pub fn kind(&self) -> ErrorKind {
        match self {
            WalletError::Key { .. } => ErrorKind::Config,
            WalletError::NotEnough { .. } => ErrorKind::InsufficientFunds,
            WalletError::Sign { .. } => ErrorKind::Rejected,
        }
    }
}

/// An output we spend, with what signing it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spend {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value (segwit signatures commit to it).
    pub amount: Amount,
}

/// The relayer's key, its address, and signing.
pub struct Signer {
    /// Signing context.
    secp: Secp256k1<All>,
    /// The secret. Never printed.
    secret: SecretKey,
    /// Its public key.
    public: CompressedPublicKey,
    /// Our P2WPKH address on the configured network.
    address: Address,
    /// The address's script, which our coins and change outputs carry.
    script_pubkey: ScriptBuf,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("address", &self.address.to_string())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        // Best effort: the compiler may have left copies elsewhere.
        self.secret.non_secure_erase();
    }
}

impl Signer {
    /// Reads the key from where the configuration says.
    pub fn load(source: &KeySource, network: Network) -> Result<Signer, WalletError> {
        if let KeySource::File(path) = source {
            warn_if_readable_by_others(path);
        }
        let setting = source.setting("key");
        let secret = source.read().map_err(|e| WalletError::Key {
            origin: format!("`{setting}`"),
            reason: e.to_string(),
        })?;
        Signer::from_text(
            secret.expose(),
            network,
            &format!("`{setting}` {}", secret.origin()),
        )
    }

    /// Parses a key written as 64 hex digits or WIF; `origin` names where it came from in
    /// errors.
    pub fn from_text(text: &str, network: Network, origin: &str) -> Result<Signer, WalletError> {
        let text = text.trim();
        let fail = |reason: &str| WalletError::Key {
            origin: origin.to_string(),
            reason: reason.to_string(),
        };
        let secret = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = <[u8; 32]>::from_hex(text).map_err(|_| fail("not a hex key"))?;
            SecretKey::from_slice(&bytes)
                .map_err(|_| fail("not a valid secp256k1 secret key (zero or out of range)"))?
        } else {
            // The parser's own error may quote characters of the key: only its kind is kept.
            let key = PrivateKey::from_wif(text)
                .map_err(|_| fail("neither 64 hex digits nor a valid WIF key"))?;
            if !key.compressed {
                return Err(fail(
                    "the WIF key is for an uncompressed public key; P2WPKH needs a compressed one",
                ));
            }
            if key.network != NetworkKind::from(network) {
                return Err(fail(&format!(
                    "the WIF key is for another network than the configured {network}"
                )));
            }
            key.inner
        };
        Ok(Signer::from_secret(secret, network))
    }

    /// A signer for `secret`.
    pub fn from_secret(secret: SecretKey, network: Network) -> Signer {
        let secp = Secp256k1::new();
        let public = CompressedPublicKey(secret.public_key(&secp));
        let address = Address::p2wpkh(&public, network);
        let script_pubkey = address.script_pubkey();
        Signer {
            secp,
            secret,
            public,
            address,
            script_pubkey,
        }
    }

    /// Our address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Our address's script.
    pub fn script_pubkey(&self) -> &ScriptBuf {
        &self.script_pubkey
    }

    /// The smallest change output relay policy accepts (the dust limit of our script).
    pub fn min_change(&self) -> Amount {
        self.script_pubkey.minimal_non_dust()
    }

    /// The virtual size of an anchor spending `inputs` of our outputs, with the largest
    /// signatures signing can produce: the signed transaction is at most this large.
    pub fn anchor_vsize(&self, payload: &[u8], inputs: usize) -> Result<u64, WalletError> {
        let spends: Vec<Spend> = (0..inputs)
            .map(|_| Spend {
                outpoint: OutPoint::null(),
                amount: Amount::ZERO,
            })
            .collect();
        let mut tx = self.unsigned_anchor(&spends, payload, Amount::ZERO)?;
        let dummy = Witness::from_slice(&[vec![0u8; MAX_SIGNATURE_LEN], vec![0u8; PUBLIC_KEY_LEN]]);
        for input in &mut tx.input {
            input.witness = dummy.clone();
        }
        Ok(tx.vsize() as u64)
    }

    /// Builds and signs an anchor spending `spends` (all ours), carrying `payload`, paying
    /// `fee`; the rest goes back to our address. Fails if the change would be dust.
    pub fn sign_anchor(
        &self,
        spends: &[Spend],
        payload: &[u8],
        fee: Amount,
    ) -> Result<Transaction, WalletError> {
        let total = spends
            .iter()
            .try_fold(Amount::ZERO, |sum, s| sum.checked_add(s.amount));
        let dust = self.min_change();
        let not_enough = || WalletError::NotEnough {
            inputs: total.unwrap_or(Amount::MAX),
            fee,
            dust,
        };
        let change = total
            .and_then(|t| t.checked_sub(fee))
            .filter(|change| *change >= dust)
            .ok_or_else(not_enough)?;
        let mut tx = self.unsigned_anchor(spends, payload, change)?;

        let mut cache = SighashCache::new(&tx);
        let mut witnesses = Vec::with_capacity(spends.len());
        for (index, spend) in spends.iter().enumerate() {
            let sighash = cache
                .p2wpkh_signature_hash(
                    index,
                    &self.script_pubkey,
                    spend.amount,
                    EcdsaSighashType::All,
                )
                .map_err(|e| WalletError::Sign {
                    index,
                    reason: e.to_string(),
                })?;
            let message = Message::from_digest(sighash.to_byte_array());
            let signature = ecdsa::Signature {
                signature: self.secp.sign_ecdsa_low_r(&message, &self.secret),
                sighash_type: EcdsaSighashType::All,
            };
            witnesses.push(Witness::p2wpkh(&signature, &self.public.0));
        }
        for (input, witness) in tx.input.iter_mut().zip(witnesses) {
            input.witness = witness;
        }
        Ok(tx)
    }

    fn unsigned_anchor(
        &self,
        spends: &[Spend],
        payload: &[u8],
        change: Amount,
    ) -> Result<Transaction, WalletError> {
        let data = PushBytesBuf::try_from(payload.to_vec()).map_err(|_| WalletError::Sign {
            index: 0,
            reason: "the payload is too large for a push".into(),
        })?;
        Ok(Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: spends
                .iter()
                .map(|spend| TxIn {
                    previous_output: spend.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output: vec![
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: ScriptBuf::new_op_return(data),
                },
                TxOut {
                    value: change,
                    script_pubkey: self.script_pubkey.clone(),
                },
            ],
        })
    }
}

/// Logs a warning if the key file can be read by other users.
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the Bitcoin key file is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use bitcoin::Txid;
    use bitcoin::secp256k1::ecdsa::Signature;

    use super::*;

    const HEX_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    fn signer() -> Signer {
        Signer::from_text(HEX_KEY, Network::Regtest, "test").unwrap()
    }

    #[test]
    fn hex_and_wif_give_the_same_address() {
        let from_hex = signer();
        let wif = PrivateKey::new(from_hex.secret, Network::Regtest).to_wif();
        let from_wif = Signer::from_text(&format!("{wif}\n"), Network::Regtest, "test").unwrap();
        assert_eq!(from_hex.address(), from_wif.address());
        // The generator point's P2WPKH address on regtest.
        assert_eq!(
            from_hex.address().to_string(),
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
        );
    }

    #[test]
    fn bad_keys_are_refused_without_quoting_them() {
        for text in [
            "",
            "zz",
            "5Kb8kLf9zgWQnogidDA76MzPL6TsZZY36hWXMssSzNydYXYB9KX",
            &"f".repeat(64),
        ] {
            let err = Signer::from_text(text, Network::Regtest, "`key_env` K").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            let message = err.to_string();
            assert!(message.starts_with("`key_env` K: "), "{message}");
            if !text.is_empty() {
                assert!(!message.contains(text), "{message}");
            }
        }
        let mainnet = PrivateKey::new(signer().secret, Network::Bitcoin).to_wif();
        let err = Signer::from_text(&mainnet, Network::Regtest, "k").unwrap_err();
        assert!(err.to_string().contains("another network"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let debug = format!("{:?}", signer());
        assert!(debug.contains("<redacted>"));
        assert!(!debug.contains("SecretKey"), "{debug}");
    }

    #[test]
    fn anchor_layout_signature_and_size() {
        let signer = signer();
        let spend = Spend {
            outpoint: OutPoint::new(Txid::from_byte_array([7; 32]), 3),
            amount: Amount::from_sat(100_000),
        };
        let payload = [0x42u8; 45];
        let fee = Amount::from_sat(300);
        let tx = signer.sign_anchor(&[spend], &payload, fee).unwrap();

        assert_eq!(tx.input.len(), 1);
        assert_eq!(tx.input[0].sequence, Sequence(0xFFFF_FFFD));
        assert!(tx.input[0].sequence.is_rbf());
        assert!(tx.output[0].script_pubkey.is_op_return());
        assert_eq!(&tx.output[0].script_pubkey.as_bytes()[2..], &payload);
        assert_eq!(tx.output[1].value, Amount::from_sat(99_700));
        assert_eq!(&tx.output[1].script_pubkey, signer.script_pubkey());
        assert!(tx.vsize() as u64 <= signer.anchor_vsize(&payload, 1).unwrap());

        // The witness signature verifies against the BIP143 sighash.
        let witness = &tx.input[0].witness;
        let sig = witness.nth(0).unwrap();
        let (der, sighash_byte) = sig.split_at(sig.len() - 1);
        assert_eq!(sighash_byte, [0x01]);
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                signer.script_pubkey(),
                spend.amount,
                EcdsaSighashType::All,
            )
            .unwrap();
        let message = Message::from_digest(sighash.to_byte_array());
        let signature = Signature::from_der(der).unwrap();
        signer
            .secp
            .verify_ecdsa(&message, &signature, &signer.public.0)
            .unwrap();
    }

    #[test]
    fn dust_change_is_refused() {
        let signer = signer();
        let spend = Spend {
            outpoint: OutPoint::new(Txid::from_byte_array([7; 32]), 0),
            amount: Amount::from_sat(500),
        };
        let err = signer
            .sign_anchor(&[spend], &[0u8; 45], Amount::from_sat(300))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InsufficientFunds);
    }
}
