//! The demo user on the symbiote: its key (`symbiote keygen`), its balances (the node's
//! `/v1/accounts/{key}`), its burns (`symbiote burn`) and the withdrawal orders they create
//! (`/v1/withdrawals`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::relayer::Api;

/// A symbiote node's API and the `symbiote` CLI pointed at it.
pub struct Node {
    /// The `symbiote` binary.
    binary: PathBuf,
    /// `http://127.0.0.1:<port>` of validator 0.
    pub url: String,
    api: Api,
}

/// A symbiote account whose key file the devnet holds.
pub struct Account {
    pub key_file: PathBuf,
    /// Hex public key.
    pub public: String,
}

impl Node {
    pub fn new(binary: &Path, url: String) -> Self {
        Node {
            binary: binary.to_path_buf(),
            api: Api::new(url.clone()),
            url,
        }
    }

    async fn get(&self, path: &str) -> Option<Value> {
        self.api.get(path).await
    }

    /// The finalized height; `None` while the node does not answer.
    pub async fn height(&self) -> Option<u64> {
        self.get("/v1/head").await?["height"].as_u64()
    }

    /// Runs the `symbiote` CLI; returns its stdout, or fails with its stderr.
    async fn cli(&self, args: &[&str]) -> Result<String> {
        let output = tokio::process::Command::new(&self.binary)
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("running symbiote {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "symbiote {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// A fresh account (`symbiote keygen --out <key_file>`).
    pub async fn keygen(&self, key_file: &Path) -> Result<Account> {
        let path = key_file.to_string_lossy();
        let public = self.cli(&["keygen", "--out", &path]).await?;
        Ok(Account {
            key_file: key_file.to_path_buf(),
            public,
        })
    }

    /// `account`'s balance of the wrapped `token` of `hostchain`; `None` while the node does not
    /// answer, zero while there is none.
    pub async fn wrapped_balance(
        &self,
        account: &Account,
        hostchain: &str,
        token: &str,
    ) -> Option<u128> {
        let reply = self
            .get(&format!("/v1/accounts/{}", account.public))
            .await?;
        let balances = reply["balances"].as_array()?;
        let amount = balances.iter().find_map(|b| {
            let wrapped = &b["asset"]["wrapped"];
            (wrapped["hostchain"] == hostchain && wrapped["token"] == token)
                .then(|| b["amount"].as_str().and_then(|a| a.parse::<u128>().ok()))
                .flatten()
        });
        Some(amount.unwrap_or_default())
    }

    /// Burns `amount` of the wrapped `token` of `hostchain` from `account` towards
    /// `destination` (`symbiote burn`, which waits until the burn is final); returns the
    /// withdrawal order's nonce.
    pub async fn burn(
        &self,
        account: &Account,
        hostchain: &str,
        token: &str,
        amount: u128,
        destination: &str,
    ) -> Result<u64> {
        let key_file = account.key_file.to_string_lossy();
        let amount = amount.to_string();
        self.cli(&[
            "burn",
            "--node",
            &self.url,
            "--key-file",
            &key_file,
            "--hostchain",
            hostchain,
            "--token",
            token,
            "--amount",
            &amount,
            "--destination",
            destination,
        ])
        .await?;
        let orders = self
            .get("/v1/withdrawals?from=1&limit=1000")
            .await
            .context("reading the node's withdrawal orders")?;
        orders
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| {
                o["burner"] == account.public.as_str()
                    && o["destination"]
                        .as_str()
                        .is_some_and(|d| d.eq_ignore_ascii_case(destination))
            })
            .filter_map(|o| o["nonce"].as_u64())
            .max()
            .with_context(|| format!("no withdrawal order of the burn to {destination}: {orders}"))
    }
}
