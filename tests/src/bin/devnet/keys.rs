//! Fresh keys for the relayer's Bitcoin and Solana accounts (its EVM key and its symbiote key
//! come from the genesis, `relayer-0.evm.key` and `relayer-0.key`).

use anyhow::{Context, Result};

/// A regtest key: the hex secret the relayer reads, and the P2WPKH address to fund.
pub struct BitcoinKey {
    pub secret_hex: String,
    pub address: String,
}

/// A fresh regtest key.
pub fn bitcoin() -> Result<BitcoinKey> {
    use bitcoin::secp256k1::{Secp256k1, SecretKey, rand};
    let secp = Secp256k1::new();
    let secret = SecretKey::new(&mut rand::thread_rng());
    let key = bitcoin::PrivateKey::new(secret, bitcoin::Network::Regtest);
    let public = bitcoin::CompressedPublicKey::from_private_key(&secp, &key)
        .context("deriving the regtest public key")?;
    Ok(BitcoinKey {
        secret_hex: secret.display_secret().to_string(),
        address: bitcoin::Address::p2wpkh(&public, bitcoin::Network::Regtest).to_string(),
    })
}

/// A Solana keypair: the file content in the Solana CLI format (a JSON array of 64 bytes) and
/// its address.
pub struct SolanaKey {
    pub json: String,
    pub address: String,
}

/// A fresh Solana keypair.
pub fn solana() -> Result<SolanaKey> {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    Ok(SolanaKey {
        json: serde_json::to_string(&key.to_keypair_bytes().to_vec())
            .context("encoding a Solana keypair")?,
        address: bs58::encode(key.verifying_key().as_bytes()).into_string(),
    })
}
