//! Building, sending and replacing anchor transactions.

use std::str::FromStr;

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::{Amount, OutPoint, Transaction, Txid};

use super::BitcoinAdapter;
use super::coins::{Coins, MAX_INPUTS, Origin, Selection};
use super::fees::{self, FeeError, FeeRate, Original};
use super::meta::{META_VERSION, MetaChange, MetaInput, MetaV1};
use super::rpc::{RpcError, codes};
use super::status::extract_payload;
use super::wallet::{CHANGE_VOUT, Spend};
use crate::anchor::{AnchorRequest, PreparedTx};
use crate::error::{AdapterError, AdapterResult, ErrorKind};

/// How often selection may start over because the node no longer had a chosen coin.
const MAX_SELECTION_ROUNDS: usize = MAX_INPUTS * 2 + 2;
/// How often signing is repeated when a signature came out shorter than estimated and the fee
/// had to be lowered to stay under the cap.
const MAX_SIGNING_ROUNDS: usize = 3;

/// `testmempoolaccept` answers meaning the node already has the transaction.
const ALREADY_KNOWN: [&str; 2] = ["txn-already-in-mempool", "txn-already-known"];

/// What a refusal by `testmempoolaccept` (its `reject-reason`, one of Bitcoin Core's fixed
/// reject codes, sometimes followed by details) means for the caller. The node gives no
/// numeric code here; the reject codes are its machine-readable answer.
pub(super) fn reject_kind(reason: &str) -> ErrorKind {
    let code = reason
        .split([',', ':', '('])
        .next()
        .unwrap_or(reason)
        .trim();
    const STALE: [&str; 8] = [
        "txn-mempool-conflict",
        "bad-txns-inputs-missingorspent",
        "missing-inputs",
        "replacement-adds-unconfirmed",
        "too many potential replacements",
        "bad-txns-spends-conflicting-tx",
        "txn-same-nonwitness-data-in-mempool",
        "non-BIP68-final",
    ];
    const LATER: [&str; 4] = [
        "too-long-mempool-chain",
        "too-large-cluster",
        "too-long-mempool-chain-desc",
        "mempool full",
    ];
    if LATER.contains(&code) {
        // A mempool limit that the next block lifts.
        ErrorKind::Unavailable
    } else if code.contains("fee") || STALE.contains(&code) {
        // Pay more, or build on other coins.
        ErrorKind::Stale
    } else {
        ErrorKind::Rejected
    }
}

impl BitcoinAdapter {
    /// The transaction in a prepared transaction, checked against its id.
    pub(super) fn decode_prepared(&self, tx: &PreparedTx) -> AdapterResult<(Txid, Transaction)> {
        let transaction: Transaction = deserialize(&tx.raw).map_err(|e| {
            self.error(
                ErrorKind::Rejected,
                format!("prepared transaction {} does not decode: {e}", tx.id),
            )
        })?;
        let txid = transaction.compute_txid();
        if Txid::from_str(&tx.id).ok() != Some(txid) {
            return Err(self.error(
                ErrorKind::Rejected,
                format!("prepared transaction {} is actually {txid}", tx.id),
            ));
        }
        Ok((txid, transaction))
    }

    /// Builds and signs an anchor for `request`.
    pub(super) async fn prepare(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        let payload = request.payload.encode();
        let policy = self.rpc.relay_policy().await.map_err(|e| self.fail(e))?;
        let estimate = self
            .rpc
            .estimate_fee(self.config.fee_target_blocks)
            .await
            .map_err(|e| self.fail(e))?;
        let rate =
            fees::rate_for_new(estimate, policy, self.config.fees).map_err(|e| self.fail(e))?;
        let cap = self.config.fees.max;
        let tip = self.rpc.block_count().await.map_err(|e| self.fail(e))?;
        let min_change = self.signer.min_change();
        let needed = |inputs: usize| {
            let vsize = self.signer.anchor_vsize(&payload, inputs).ok()?;
            rate.fee_at_least(vsize)?.checked_add(min_change)
        };

        let mut coins = self.coins.lock().await;
        let mut rescanned = false;
        for _ in 0..MAX_SELECTION_ROUNDS {
            let selection = match coins.select(tip, needed) {
                Ok(selection) => selection,
                Err(_) if !rescanned => {
                    rescanned = true;
                    self.rescan(&mut coins).await?;
                    continue;
                }
                Err(e) => return Err(self.fail(e)),
            };
            if !self.still_unspent(&mut coins, &selection, tip).await? {
                continue;
            }
            let (tx, fee) = self.sign_under_cap(&selection.spends, &payload, cap, |vsize| {
                let fee = rate
                    .fee_at_least(vsize)
                    .ok_or(FeeError::Overflow { vsize })?;
                let most = cap.fee_at_most(vsize).ok_or(FeeError::Overflow { vsize })?;
                Ok(fee.min(most))
            })?;
            let prepared = self.prepared(&tx, &selection.spends, fee, selection.depth, None)?;
            record(&mut coins, &tx, selection.depth);
            tracing::info!(
                hostchain = %self.hostchain,
                txid = %prepared.id,
                sequence = %request.payload.sequence,
                %fee,
                %rate,
                inputs = selection.spends.len(),
                chain_depth = selection.depth,
                "prepared bitcoin anchor"
            );
            return Ok(prepared);
        }
        Err(self.error(
            ErrorKind::Unavailable,
            "our coins kept changing while choosing inputs; try again",
        ))
    }

    /// Checks the chosen coins with the node (`gettxout` including the mempool): forgets those
    /// it no longer has and notes those that confirmed meanwhile. `false` if anything changed,
    /// so that the caller chooses again.
    async fn still_unspent(
        &self,
        coins: &mut Coins,
        selection: &Selection,
        tip: u64,
    ) -> AdapterResult<bool> {
        let mut unchanged = true;
        for spend in &selection.spends {
            let out = self
                .rpc
                .tx_out(spend.outpoint, true)
                .await
                .map_err(|e| self.fail(e))?;
            match out {
                Some(out)
                    if out.value == spend.amount
                        && &out.script_pubkey == self.signer.script_pubkey() =>
                {
                    let unconfirmed = matches!(
                        coins.get(&spend.outpoint).map(|c| c.origin),
                        Some(Origin::Unconfirmed { .. })
                    );
                    if out.confirmations > 0 && unconfirmed {
                        let height = tip.saturating_add(1).saturating_sub(out.confirmations);
                        coins.confirm(&spend.outpoint, height, out.coinbase);
                        unchanged = false;
                    }
                }
                _ => {
                    tracing::debug!(outpoint = %spend.outpoint, "coin is gone; choosing again");
                    coins.forget(&spend.outpoint);
                    unchanged = false;
                }
            }
        }
        Ok(unchanged)
    }

    /// Signs with the fee `fee_for(vsize)` for the estimated size, then checks the rate on the
    /// signed size: a signature shorter than estimated makes the transaction smaller, and the
    /// fee is then recomputed so that the rate stays under `cap`.
    fn sign_under_cap(
        &self,
        spends: &[Spend],
        payload: &[u8],
        cap: FeeRate,
        fee_for: impl Fn(u64) -> Result<Amount, FeeError>,
    ) -> AdapterResult<(Transaction, Amount)> {
        let mut vsize = self
            .signer
            .anchor_vsize(payload, spends.len())
            .map_err(|e| self.fail(e))?;
        for _ in 0..MAX_SIGNING_ROUNDS {
            let fee = fee_for(vsize).map_err(|e| self.fail(e))?;
            let tx = self
                .signer
                .sign_anchor(spends, payload, fee)
                .map_err(|e| self.fail(e))?;
            let signed = tx.vsize() as u64;
            if FeeRate::paid(fee, signed).is_some_and(|paid| paid <= cap) {
                return Ok((tx, fee));
            }
            vsize = signed;
        }
        Err(self.fail(FeeError::CapReached {
            needed_rate: cap,
            cap,
        }))
    }

    /// The prepared transaction for a signed anchor.
    fn prepared(
        &self,
        tx: &Transaction,
        spends: &[Spend],
        fee: Amount,
        depth: u32,
        replaces: Option<Txid>,
    ) -> AdapterResult<PreparedTx> {
        let vsize = tx.vsize() as u64;
        let change = tx
            .output
            .get(CHANGE_VOUT as usize)
            .ok_or_else(|| self.error(ErrorKind::Rejected, "signed anchor has no change output"))?;
        let meta = MetaV1 {
            v: META_VERSION,
            fee_sat: fee,
            vsize,
            fee_rate_sat_kvb: FeeRate::paid(fee, vsize).unwrap_or(FeeRate::ZERO),
            inputs: spends
                .iter()
                .map(|s| MetaInput {
                    txid: s.outpoint.txid,
                    vout: s.outpoint.vout,
                    amount_sat: s.amount,
                })
                .collect(),
            change: MetaChange {
                vout: CHANGE_VOUT,
                amount_sat: change.value,
            },
            chain_depth: depth,
            replaces,
        };
        Ok(PreparedTx {
            hostchain: self.hostchain.clone(),
            id: tx.compute_txid().to_string(),
            raw: serialize(tx),
            meta: meta.to_value(),
        })
    }

    /// Sends a prepared transaction; harmless if the node already has it or it is mined.
    pub(super) async fn send(&self, prepared: &PreparedTx) -> AdapterResult<()> {
        let (txid, tx) = self.decode_prepared(prepared)?;
        let accept = self.rpc.test_accept(&tx).await.map_err(|e| self.fail(e))?;
        if accept.allowed {
            match self.rpc.send(&tx, self.config.fees.max).await {
                Ok(_) => {}
                Err(e) if e.code() == Some(codes::ALREADY_IN_UTXO_SET) => {}
                Err(e) if self.node_has(txid, &tx).await? => {
                    tracing::debug!(%txid, error = %e, "the node has the transaction already");
                }
                // Refused by policy after all (the mempool changed since the test): the message
                // is the reject code, as in `testmempoolaccept`.
                Err(RpcError::Node {
                    code: codes::VERIFY_REJECTED,
                    message,
                    ..
                }) => {
                    return Err(self.error(
                        reject_kind(&message),
                        format!("the node refuses {txid}: {message}"),
                    ));
                }
                Err(e) => return Err(self.fail(e)),
            }
        } else {
            let reason = accept.reject_reason.unwrap_or_default();
            if !ALREADY_KNOWN.contains(&reason.as_str()) && !self.node_has(txid, &tx).await? {
                return Err(self.error(
                    reject_kind(&reason),
                    format!("the node refuses {txid}: {reason}"),
                ));
            }
        }
        // The node has it: its inputs are spent, its change is ours to chain on.
        let meta = MetaV1::from_value(&prepared.meta).ok();
        let mut coins = self.coins.lock().await;
        if let Some(replaced) = meta.as_ref().and_then(|m| m.replaces) {
            coins.drop_replaced(replaced, CHANGE_VOUT);
        }
        record(&mut coins, &tx, meta.map_or(1, |m| m.chain_depth));
        tracing::info!(hostchain = %self.hostchain, %txid, "broadcast bitcoin anchor");
        Ok(())
    }

    /// Whether the node has `txid` in its mempool or on the main chain.
    async fn node_has(&self, txid: Txid, tx: &Transaction) -> AdapterResult<bool> {
        let in_mempool = self
            .rpc
            .mempool_entry(txid)
            .await
            .map_err(|e| self.fail(e))?
            .is_some();
        Ok(in_mempool || self.inclusion(txid, tx, None).await?.is_some())
    }

    /// A fee-bumped successor of `prepared`: same inputs, same payload, higher fee (BIP125).
    pub(super) async fn bump(&self, prepared: &PreparedTx) -> AdapterResult<PreparedTx> {
        let (txid, original) = self.decode_prepared(prepared)?;
        let meta = MetaV1::from_value(&prepared.meta).map_err(|e| self.fail(e))?;
        let spends: Vec<Spend> = meta
            .inputs
            .iter()
            .map(|input| Spend {
                outpoint: input.outpoint(),
                amount: input.amount_sat,
            })
            .collect();
        self.check_meta(&original, &spends, meta.fee_sat)?;
        let payload = extract_payload(&original)
            .map_err(|e| self.error(ErrorKind::Rejected, format!("{txid}: {e}")))?
            .encode();

        let mut coins = self.coins.lock().await;
        let change = OutPoint::new(txid, meta.change.vout);
        if let Some(child) = coins.spender_of(&change) {
            return Err(self.descendant_error(txid, child));
        }
        match self
            .rpc
            .mempool_entry(txid)
            .await
            .map_err(|e| self.fail(e))?
        {
            Some(entry) => {
                if let Some(child) = entry.spent_by.first() {
                    return Err(self.descendant_error(txid, *child));
                }
            }
            None => {
                if let Some((inclusion, _)) = self.inclusion(txid, &original, None).await? {
                    return Err(self.error(
                        ErrorKind::Rejected,
                        format!(
                            "{txid} is already included at height {}; nothing to replace",
                            inclusion.height
                        ),
                    ));
                }
            }
        }

        let policy = self.rpc.relay_policy().await.map_err(|e| self.fail(e))?;
        let estimate = self
            .rpc
            .estimate_fee(self.config.fee_target_blocks)
            .await
            .map_err(|e| self.fail(e))?;
        let before = Original {
            fee: meta.fee_sat,
            vsize: original.vsize() as u64,
        };
        let limits = self.config.fees;
        let (tx, fee) = self.sign_under_cap(&spends, &payload, limits.max, |vsize| {
            fees::replacement_fee(before, vsize, estimate, policy, limits)
        })?;
        let prepared = self.prepared(&tx, &spends, fee, meta.chain_depth, Some(txid))?;
        coins.drop_replaced(txid, meta.change.vout);
        record(&mut coins, &tx, meta.chain_depth);
        tracing::info!(
            hostchain = %self.hostchain,
            replaces = %txid,
            txid = %prepared.id,
            old_fee = %meta.fee_sat,
            new_fee = %fee,
            "prepared bitcoin anchor replacement"
        );
        Ok(prepared)
    }

    /// Checks that stored metadata describes the transaction: the same inputs, and the fee it
    /// states is what the inputs' values minus the outputs leave.
    fn check_meta(&self, tx: &Transaction, spends: &[Spend], fee: Amount) -> AdapterResult<()> {
        let same_inputs = tx.input.len() == spends.len()
            && tx
                .input
                .iter()
                .zip(spends)
                .all(|(input, spend)| input.previous_output == spend.outpoint);
        let inputs = spends
            .iter()
            .try_fold(Amount::ZERO, |sum, s| sum.checked_add(s.amount));
        let outputs = tx
            .output
            .iter()
            .try_fold(Amount::ZERO, |sum, o| sum.checked_add(o.value));
        let paid = inputs.zip(outputs).and_then(|(i, o)| i.checked_sub(o));
        if !same_inputs || paid != Some(fee) {
            return Err(self.error(
                ErrorKind::Rejected,
                format!(
                    "the stored meta of {} does not describe its transaction",
                    tx.compute_txid()
                ),
            ));
        }
        Ok(())
    }

    fn descendant_error(&self, txid: Txid, child: Txid) -> AdapterError {
        self.error(
            ErrorKind::Stale,
            format!(
                "{txid} has a descendant {child} spending its change; replacing it would \
                 invalidate that one: replace the last transaction of the chain instead"
            ),
        )
    }
}

/// Records a transaction of ours in `coins`: its inputs reserved, its change ours.
fn record(coins: &mut Coins, tx: &Transaction, depth: u32) {
    let inputs: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
    let change = tx
        .output
        .get(CHANGE_VOUT as usize)
        .map(|out| (CHANGE_VOUT, out.value));
    coins.record(tx.compute_txid(), &inputs, change, depth);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_reasons_map_to_kinds() {
        assert_eq!(
            reject_kind("min relay fee not met, 10 < 166"),
            ErrorKind::Stale
        );
        assert_eq!(reject_kind("mempool min fee not met"), ErrorKind::Stale);
        assert_eq!(
            reject_kind("insufficient fee, rejecting replacement abc"),
            ErrorKind::Stale
        );
        assert_eq!(reject_kind("txn-mempool-conflict"), ErrorKind::Stale);
        assert_eq!(reject_kind("missing-inputs"), ErrorKind::Stale);
        assert_eq!(
            reject_kind("too-long-mempool-chain, ..."),
            ErrorKind::Unavailable
        );
        assert_eq!(
            reject_kind("mandatory-script-verify-flag-failed (Signature must be zero)"),
            ErrorKind::Rejected
        );
        assert_eq!(reject_kind("dust"), ErrorKind::Rejected);
        assert_eq!(reject_kind("scriptpubkey"), ErrorKind::Rejected);
    }
}
