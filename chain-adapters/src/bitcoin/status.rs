//! Following an anchor (mempool, block, depth, reorg, drop) and reading one back.
//!
//! Where a transaction is included is found, in order: in the block the caller last saw it in
//! (`getrawtransaction` with that block, which works without a transaction index); through the
//! node's transaction index (`-txindex=1`); and, without an index, through its change output
//! while that is unspent (`gettxout` tells its depth). A block off the main chain never counts.
//!
//! After a reorg Bitcoin Core (v31 observed) puts the transactions of disconnected blocks back
//! into its mempool; `status` then reports [`TxStatus::InMempool`] (pending again, wait or
//! replace). [`TxStatus::ReorgedOut`] is reported when the block the caller saw is off the main
//! chain and the transaction is neither in the mempool nor in another block: broadcast it again
//! or re-anchor.

use std::str::FromStr;

use bitcoin::consensus::encode::deserialize;
use bitcoin::hashes::Hash as _;
use bitcoin::hex::FromHex;
use bitcoin::script::Instruction;
use bitcoin::{Amount, BlockHash, OutPoint, Transaction, Txid};
use symbiote::anchor::AnchorPayload;

use super::BitcoinAdapter;
use super::wallet::CHANGE_VOUT;
use crate::anchor::{AnchorReadBack, Inclusion, PreparedTx, TxStatus};
use crate::error::{AdapterResult, ErrorKind};

/// Whether input `index` of `tx` carries a valid P2WPKH signature (any sighash type) for the
/// coin of `script` holding `value`.
fn signed_p2wpkh(tx: &Transaction, index: usize, script: &bitcoin::Script, value: Amount) -> bool {
    let Some(input) = tx.input.get(index) else {
        return false;
    };
    let (Some(signature), Some(key), 2) = (
        input.witness.nth(0),
        input.witness.nth(1),
        input.witness.len(),
    ) else {
        return false;
    };
    let (Ok(signature), Ok(key)) = (
        bitcoin::ecdsa::Signature::from_slice(signature),
        bitcoin::CompressedPublicKey::from_slice(key),
    ) else {
        return false;
    };
    if bitcoin::ScriptBuf::new_p2wpkh(&key.wpubkey_hash()).as_script() != script {
        return false;
    }
    let Ok(sighash) = bitcoin::sighash::SighashCache::new(tx).p2wpkh_signature_hash(
        index,
        script,
        value,
        signature.sighash_type,
    ) else {
        return false;
    };
    let message = bitcoin::secp256k1::Message::from_digest(sighash.to_byte_array());
    bitcoin::secp256k1::Secp256k1::verification_only()
        .verify_ecdsa(&message, &signature.signature, &key.0)
        .is_ok()
}

/// Why a transaction carries no usable anchor payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// No output decodes as a payload; says what the `OP_RETURN` outputs hold, if any.
    #[error("no anchor payload: {0}")]
    Missing(String),
    /// More than one output decodes as a payload: which one counts is ambiguous.
    #[error("anchor payloads in several outputs ({0:?}): ambiguous")]
    Several(Vec<usize>),
}

/// The anchor payload of `tx`: exactly one `OP_RETURN` output whose single push decodes as an
/// [`AnchorPayload`]. Other `OP_RETURN` outputs are ignored.
pub fn extract_payload(tx: &Transaction) -> Result<AnchorPayload, PayloadError> {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for (vout, output) in tx.output.iter().enumerate() {
        if !output.script_pubkey.is_op_return() {
            continue;
        }
        let instructions: Vec<_> = output.script_pubkey.instructions().collect();
        let data = match instructions.as_slice() {
            [Ok(Instruction::Op(_)), Ok(Instruction::PushBytes(data))] => data.as_bytes(),
            _ => {
                notes.push(format!("output {vout} is not OP_RETURN with one push"));
                continue;
            }
        };
        match AnchorPayload::decode(data) {
            Ok(payload) => found.push((vout, payload)),
            Err(e) => notes.push(format!("output {vout}: {e}")),
        }
    }
    match found.as_slice() {
        [(_, payload)] => Ok(*payload),
        [] if notes.is_empty() => Err(PayloadError::Missing("no OP_RETURN output".into())),
        [] => Err(PayloadError::Missing(notes.join("; "))),
        several => Err(PayloadError::Several(
            several.iter().map(|(vout, _)| *vout).collect(),
        )),
    }
}

impl BitcoinAdapter {
    /// Where `tx` stands; see the module documentation.
    pub(super) async fn follow(
        &self,
        prepared: &PreparedTx,
        seen: Option<&Inclusion>,
    ) -> AdapterResult<TxStatus> {
        let (txid, tx) = self.decode_prepared(prepared)?;
        let seen_block = match seen {
            Some(seen) => Some(BlockHash::from_str(&seen.block_hash).map_err(|_| {
                self.error(
                    ErrorKind::Rejected,
                    format!("seen.block_hash {:?} is not a block hash", seen.block_hash),
                )
            })?),
            None => None,
        };
        if self.in_mempool(txid).await? {
            return Ok(TxStatus::InMempool);
        }
        if let Some(included) = self.included(txid, &tx, seen_block).await? {
            return Ok(included);
        }
        if let (Some(seen), Some(block)) = (seen, seen_block) {
            let header = self
                .rpc
                .block_header(block)
                .await
                .map_err(|e| self.fail(e))?;
            if header.is_none_or(|h| h.confirmations < 0) {
                return Ok(TxStatus::ReorgedOut {
                    previous: seen.clone(),
                });
            }
        }

        // Neither in the mempool nor in a block: can it still be included as it is?
        let mut gone = None;
        for input in &tx.input {
            let exists = self
                .rpc
                .tx_out(input.previous_output, true)
                .await
                .map_err(|e| self.fail(e))?;
            if exists.is_none() {
                gone = Some(input.previous_output);
                break;
            }
        }
        let Some(outpoint) = gone else {
            return Ok(TxStatus::Unknown);
        };
        let spender = self
            .rpc
            .mempool_spender(outpoint)
            .await
            .map_err(|e| self.fail(e))?;
        // It may have entered the mempool or a block since we looked.
        if spender == Some(txid) || self.in_mempool(txid).await? {
            return Ok(TxStatus::InMempool);
        }
        if let Some(included) = self.included(txid, &tx, seen_block).await? {
            return Ok(included);
        }
        let reason = match spender {
            Some(other) => format!("input {outpoint} is spent by mempool transaction {other}"),
            None => format!(
                "input {outpoint} is spent in the chain or does not exist (a parent that is \
                 not in the chain or the mempool)"
            ),
        };
        Ok(TxStatus::Dropped { reason })
    }

    async fn in_mempool(&self, txid: Txid) -> AdapterResult<bool> {
        Ok(self
            .rpc
            .mempool_entry(txid)
            .await
            .map_err(|e| self.fail(e))?
            .is_some())
    }

    async fn included(
        &self,
        txid: Txid,
        tx: &Transaction,
        seen_block: Option<BlockHash>,
    ) -> AdapterResult<Option<TxStatus>> {
        Ok(self
            .inclusion(txid, tx, seen_block)
            .await?
            .map(|(inclusion, confirmations)| TxStatus::Included {
                inclusion,
                confirmations,
                fin: confirmations >= self.config.confirmations,
            }))
    }

    /// The main-chain block including `txid` and its confirmations, if any.
    pub(super) async fn inclusion(
        &self,
        txid: Txid,
        tx: &Transaction,
        seen_block: Option<BlockHash>,
    ) -> AdapterResult<Option<(Inclusion, u64)>> {
        let mut lookups = Vec::with_capacity(2);
        if seen_block.is_some() {
            lookups.push(seen_block);
        }
        lookups.push(None);
        for block in lookups {
            let info = self
                .rpc
                .raw_tx(txid, block)
                .await
                .map_err(|e| self.fail(e))?;
            if let Some(info) = info
                && let (Some(hash), Some(1..)) = (info.blockhash, info.confirmations)
                && let Some(found) = self.on_main_chain(hash).await?
            {
                return Ok(Some(found));
            }
        }
        // Without a transaction index: the change output, while unspent, says how deep it is.
        if let Some(change) = tx.output.get(CHANGE_VOUT as usize)
            && change.script_pubkey == *self.signer.script_pubkey()
        {
            let outpoint = OutPoint::new(txid, CHANGE_VOUT);
            let out = self
                .rpc
                .tx_out(outpoint, false)
                .await
                .map_err(|e| self.fail(e))?;
            if let Some(out) = out
                && out.confirmations > 0
            {
                let tip = self.rpc.block_count().await.map_err(|e| self.fail(e))?;
                let height = tip.saturating_add(1).saturating_sub(out.confirmations);
                let hash = self
                    .rpc
                    .block_hash(height)
                    .await
                    .map_err(|e| self.fail(e))?;
                return self.on_main_chain(hash).await;
            }
        }
        Ok(None)
    }

    /// The inclusion at `hash` and its confirmations, if the block is on the main chain.
    async fn on_main_chain(&self, hash: BlockHash) -> AdapterResult<Option<(Inclusion, u64)>> {
        let header = self
            .rpc
            .block_header(hash)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(header.and_then(|h| {
            let confirmations = u64::try_from(h.confirmations).ok().filter(|c| *c > 0)?;
            Some((
                Inclusion {
                    height: h.height,
                    block_hash: hash.to_string(),
                },
                confirmations,
            ))
        }))
    }

    /// Transaction `txid`, looked up in the mempool and the node's transaction index, and the
    /// block it is in; when the node does not find it, a [`ErrorKind::NotFound`] error saying
    /// `missing`.
    async fn indexed_tx(
        &self,
        txid: Txid,
        missing: impl FnOnce() -> String,
    ) -> AdapterResult<(Transaction, Option<BlockHash>)> {
        let info = self
            .rpc
            .raw_tx(txid, None)
            .await
            .map_err(|e| self.fail(e))?
            .ok_or_else(|| self.error(ErrorKind::NotFound, missing()))?;
        Ok((self.decode_tx(txid, &info.hex)?, info.blockhash))
    }

    /// Transaction `txid` from the node's hex, which must be that transaction.
    fn decode_tx(&self, txid: Txid, hex: &str) -> AdapterResult<Transaction> {
        let bytes = Vec::<u8>::from_hex(hex)
            .map_err(|e| self.error(ErrorKind::InvalidResponse, format!("{txid}: hex: {e}")))?;
        let tx: Transaction = deserialize(&bytes)
            .map_err(|e| self.error(ErrorKind::InvalidResponse, format!("{txid}: decode: {e}")))?;
        if tx.compute_txid() != txid {
            return Err(self.error(
                ErrorKind::InvalidResponse,
                format!("asked for {txid}, the node returned {}", tx.compute_txid()),
            ));
        }
        Ok(tx)
    }

    /// Whether one of `tx`'s inputs spends a coin of a trusted address with a valid signature
    /// (the previous transactions are looked up, which needs `-txindex=1` once they are
    /// confirmed). The signature is checked here, not taken from the node: a node cannot pass a
    /// made-up transaction off as one of ours.
    async fn spends_trusted_coin(&self, tx: &Transaction) -> AdapterResult<bool> {
        for (index, input) in tx.input.iter().enumerate().take(super::coins::MAX_INPUTS) {
            let spent = input.previous_output;
            if spent.is_null() {
                continue;
            }
            let (previous, _) = self
                .indexed_tx(spent.txid, || {
                    format!(
                        "input {index} spends {spent}, whose transaction the node does not find \
                         (it needs -txindex=1): who made this transaction is unknown"
                    )
                })
                .await?;
            let Some(coin) = usize::try_from(spent.vout)
                .ok()
                .and_then(|vout| previous.output.get(vout))
            else {
                return Err(self.error(
                    ErrorKind::InvalidResponse,
                    format!("input {index} spends {spent}, which does not exist"),
                ));
            };
            if !self.trusted_scripts.contains(&coin.script_pubkey) {
                continue;
            }
            if signed_p2wpkh(tx, index, &coin.script_pubkey, coin.value) {
                return Ok(true);
            }
            return Err(self.error(
                ErrorKind::InvalidResponse,
                format!("input {index} spends a trusted coin without a valid signature"),
            ));
        }
        Ok(false)
    }

    /// Finds and decodes the anchor payload of transaction `id`, which must be in a block on
    /// the main chain. Finding a confirmed transaction by id needs the node's `-txindex=1`.
    pub(super) async fn read_back(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        let txid = Txid::from_str(id).map_err(|_| {
            self.error(ErrorKind::NotFound, format!("{id:?} is not a Bitcoin txid"))
        })?;
        let (tx, block) = self
            .indexed_tx(txid, || {
                format!(
                    "transaction {txid} not found (the node finds confirmed transactions only \
                     with -txindex=1)"
                )
            })
            .await?;
        let payload = extract_payload(&tx).map_err(|e| {
            let kind = match e {
                PayloadError::Missing(_) => ErrorKind::NotFound,
                PayloadError::Several(_) => ErrorKind::InvalidResponse,
            };
            self.error(kind, format!("{txid}: {e}"))
        })?;
        // Anyone can write an OP_RETURN: only a transaction that spends a coin of a trusted
        // address is an anchor.
        if !self.spends_trusted_coin(&tx).await? {
            return Err(self.error(
                ErrorKind::NotFound,
                format!(
                    "{txid} spends no coin of a trusted anchor address (its OP_RETURN is not an \
                     anchor of ours)"
                ),
            ));
        }
        let (inclusion, confirmations) = match block {
            Some(hash) => self.on_main_chain(hash).await?.ok_or_else(|| {
                self.error(
                    ErrorKind::NotFound,
                    format!("{txid} is only in block {hash}, which is not on the main chain"),
                )
            })?,
            None => {
                return Err(self.error(
                    ErrorKind::NotFound,
                    format!("{txid} is in the mempool, not in a block yet"),
                ));
            }
        };
        Ok(AnchorReadBack {
            payload,
            inclusion,
            confirmations,
            fin: confirmations >= self.config.confirmations,
            symbiote: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::absolute::LockTime;
    use bitcoin::script::PushBytesBuf;
    use bitcoin::transaction::Version;
    use bitcoin::{Amount, ScriptBuf, TxOut};
    use symbiote::hash::Hash;
    use symbiote::types::Sequence;

    use super::*;

    fn tx_with(outputs: Vec<ScriptBuf>) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![],
            output: outputs
                .into_iter()
                .map(|script_pubkey| TxOut {
                    value: Amount::ZERO,
                    script_pubkey,
                })
                .collect(),
        }
    }

    fn op_return(data: &[u8]) -> ScriptBuf {
        ScriptBuf::new_op_return(PushBytesBuf::try_from(data.to_vec()).unwrap())
    }

    fn payload(n: u64) -> AnchorPayload {
        AnchorPayload {
            sequence: Sequence::new(n),
            root: Hash([n as u8; 32]),
        }
    }

    #[test]
    fn finds_exactly_one_payload() {
        let tx = tx_with(vec![
            op_return(b"something else"),
            op_return(&payload(7).encode()),
            ScriptBuf::new(),
        ]);
        assert_eq!(extract_payload(&tx), Ok(payload(7)));
    }

    #[test]
    fn explains_what_is_missing() {
        let none = tx_with(vec![ScriptBuf::new()]);
        assert_eq!(
            extract_payload(&none),
            Err(PayloadError::Missing("no OP_RETURN output".into()))
        );
        let short = tx_with(vec![op_return(&payload(1).encode()[..44])]);
        let err = extract_payload(&short).unwrap_err().to_string();
        assert!(
            err.contains("output 0") && err.contains("44 bytes"),
            "{err}"
        );
        let two = tx_with(vec![
            op_return(&payload(1).encode()),
            op_return(&payload(2).encode()),
        ]);
        assert_eq!(
            extract_payload(&two),
            Err(PayloadError::Several(vec![0, 1]))
        );
    }
}
