//! The relayer's coins: which outputs to our address exist, which of them our own prepared
//! transactions already spend, and which to spend next.
//!
//! Sources of truth, in order:
//! - `scantxoutset` over our address (at start, and again when the known coins do not cover an
//!   anchor) gives the confirmed outputs ([`Coins::set_confirmed`]);
//! - every transaction this adapter prepares, or is handed to broadcast or follow, reserves the
//!   outputs it spends and contributes its change as an unconfirmed coin ([`Coins::record`]);
//! - before signing, each chosen coin is checked with `gettxout` including the mempool, and
//!   forgotten if the node no longer has it ([`Coins::forget`]), so that a stale view never
//!   leads to a conflicting transaction.
//!
//! Selection prefers the change of the most recent anchor, confirmed or not, so each anchor
//! chains on the previous one (as long as the unconfirmed part of that chain is short), and
//! falls back to the other coins, largest first.

use std::collections::BTreeMap;

use bitcoin::{Amount, OutPoint, Txid};

use super::wallet::{COINBASE_MATURITY, Spend};
use crate::error::ErrorKind;

/// The longest chain of our own unconfirmed anchors a new one may extend. Bitcoin Core limits
/// a mempool cluster (64 transactions by default in v31); staying far below keeps room for
/// replacements and for other limits operators may set.
pub const MAX_UNCONFIRMED_CHAIN: u32 = 12;
/// The most inputs one anchor spends.
pub const MAX_INPUTS: usize = 20;

/// Where a coin comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// In a block at `height`; `coinbase` outputs mature after [`COINBASE_MATURITY`] blocks.
    Confirmed {
        /// The including block's height.
        height: u64,
        /// Whether it is a coinbase output.
        coinbase: bool,
    },
    /// The change of one of our unconfirmed transactions.
    Unconfirmed {
        /// How many unconfirmed transactions of ours lead to it, its own included.
        depth: u32,
    },
}

/// An output to our address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coin {
    /// Its value.
    pub amount: Amount,
    /// Confirmed or not.
    pub origin: Origin,
    /// Set on the change of our own transactions, in the order we learnt of them: the highest
    /// is the most recent anchor's change, which the next anchor spends.
    pub change_order: Option<u64>,
}

/// Why no coins were chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoinError {
    /// The spendable coins do not cover the fee and a change output.
    #[error(
        "not enough funds: an anchor needs at least {needed}, spendable coins hold {spendable} \
         (immature coinbase: {immature}; held back by the unconfirmed chain limit: {chained})"
    )]
    Insufficient {
        /// What one anchor with a single input needs.
        needed: Amount,
        /// The total of coins that may be spent now.
        spendable: Amount,
        /// Coinbase outputs that are not mature yet.
        immature: Amount,
        /// Unconfirmed change at the end of a chain that is already at its limit.
        chained: Amount,
    },
}

impl CoinError {
    /// How the caller should react: wait for funds (or a confirmation).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InsufficientFunds
    }
}

/// Chosen inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// What to spend.
    pub spends: Vec<Spend>,
    /// The depth the new transaction's change will have.
    pub depth: u32,
}

/// Our coins and reservations.
#[derive(Debug, Default)]
pub struct Coins {
    /// Outputs to our address that exist as far as we know.
    coins: BTreeMap<OutPoint, Coin>,
    /// Outputs spent by transactions we prepared or were shown, and by which.
    reserved: BTreeMap<OutPoint, Txid>,
    /// The next [`Coin::change_order`].
    next_order: u64,
}

impl Coins {
    /// Replaces the confirmed coins with a fresh scan of the UTXO set. Unconfirmed change that
    /// the scan shows confirmed becomes confirmed; the rest of the unconfirmed coins stay.
    pub fn set_confirmed(&mut self, scanned: impl IntoIterator<Item = (OutPoint, Coin)>) {
        let mut previous = std::mem::take(&mut self.coins);
        for (outpoint, mut coin) in scanned {
            if let Some(known) = previous.remove(&outpoint) {
                coin.change_order = coin.change_order.or(known.change_order);
            }
            self.coins.insert(outpoint, coin);
        }
        self.coins.extend(
            previous
                .into_iter()
                .filter(|(_, coin)| matches!(coin.origin, Origin::Unconfirmed { .. })),
        );
    }

    /// The value of every coin we know of that no transaction of ours spends.
    pub fn unspent_total(&self) -> Amount {
        self.coins
            .iter()
            .filter(|(outpoint, _)| !self.reserved.contains_key(outpoint))
            .map(|(_, coin)| coin.amount)
            .fold(Amount::ZERO, |total, amount| {
                total.checked_add(amount).unwrap_or(Amount::MAX_MONEY)
            })
    }

    /// Forgets a coin the node no longer has (spent, or never confirmed and dropped).
    pub fn forget(&mut self, outpoint: &OutPoint) {
        self.coins.remove(outpoint);
    }

    /// Records that a coin is confirmed at `height`.
    pub fn confirm(&mut self, outpoint: &OutPoint, height: u64, coinbase: bool) {
        if let Some(coin) = self.coins.get_mut(outpoint) {
            coin.origin = Origin::Confirmed { height, coinbase };
        }
    }

    /// The coin at `outpoint`, if we know it.
    pub fn get(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.coins.get(outpoint)
    }

    /// The transaction of ours that spends `outpoint`, if any.
    pub fn spender_of(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.reserved.get(outpoint).copied()
    }

    /// Records a transaction of ours: its inputs are reserved for it and its change (if it is
    /// not known yet) becomes an unconfirmed coin at `depth`. Recording the same transaction
    /// again changes nothing.
    pub fn record(
        &mut self,
        txid: Txid,
        inputs: &[OutPoint],
        change: Option<(u32, Amount)>,
        depth: u32,
    ) {
        for outpoint in inputs {
            self.reserved.insert(*outpoint, txid);
        }
        if let Some((vout, amount)) = change {
            let outpoint = OutPoint::new(txid, vout);
            if !self.coins.contains_key(&outpoint) {
                let order = self.next_order;
                self.next_order = self.next_order.saturating_add(1);
                self.coins.insert(
                    outpoint,
                    Coin {
                        amount,
                        origin: Origin::Unconfirmed { depth },
                        change_order: Some(order),
                    },
                );
            }
        }
    }

    /// Forgets the change of a transaction that was replaced: it will never exist alongside
    /// the replacement.
    pub fn drop_replaced(&mut self, txid: Txid, change_vout: u32) {
        self.coins.remove(&OutPoint::new(txid, change_vout));
    }

    /// Chooses coins for an anchor. `needed(n)` is what `n` inputs must hold at least (the fee
    /// for a transaction with `n` inputs plus the smallest change). `tip` is the current
    /// height, for coinbase maturity.
    pub fn select(
        &self,
        tip: u64,
        needed: impl Fn(usize) -> Option<Amount>,
    ) -> Result<Selection, CoinError> {
        let mut immature = Amount::ZERO;
        let mut chained = Amount::ZERO;
        let mut spendable: Vec<(OutPoint, Coin)> = Vec::new();
        for (outpoint, coin) in &self.coins {
            if self.reserved.contains_key(outpoint) {
                continue;
            }
            match coin.origin {
                Origin::Confirmed {
                    height,
                    coinbase: true,
                } if tip.saturating_add(1).saturating_sub(height) < COINBASE_MATURITY => {
                    immature = immature.checked_add(coin.amount).unwrap_or(Amount::MAX);
                }
                Origin::Unconfirmed { depth, .. } if depth >= MAX_UNCONFIRMED_CHAIN => {
                    chained = chained.checked_add(coin.amount).unwrap_or(Amount::MAX);
                }
                _ => spendable.push((*outpoint, *coin)),
            }
        }
        let total = spendable
            .iter()
            .try_fold(Amount::ZERO, |sum, (_, c)| sum.checked_add(c.amount))
            .unwrap_or(Amount::MAX);
        let insufficient = || CoinError::Insufficient {
            needed: needed(1).unwrap_or(Amount::MAX),
            spendable: total,
            immature,
            chained,
        };

        // The most recent anchor's change, if it covers this anchor on its own.
        let latest_change = spendable
            .iter()
            .filter(|(_, coin)| coin.change_order.is_some())
            .max_by_key(|(_, coin)| coin.change_order);
        if let (Some((outpoint, coin)), Some(need)) = (latest_change, needed(1))
            && coin.amount >= need
        {
            return Ok(Selection {
                spends: vec![Spend {
                    outpoint: *outpoint,
                    amount: coin.amount,
                }],
                depth: depth_of(coin).saturating_add(1),
            });
        }

        // Otherwise the largest coins first, confirmed before unconfirmed at equal value.
        spendable.sort_by(|(a_out, a), (b_out, b)| {
            b.amount
                .cmp(&a.amount)
                .then_with(|| depth_of(a).cmp(&depth_of(b)))
                .then_with(|| a_out.cmp(b_out))
        });
        let mut spends = Vec::new();
        let mut sum = Amount::ZERO;
        let mut depth = 0;
        for (outpoint, coin) in spendable.into_iter().take(MAX_INPUTS) {
            spends.push(Spend {
                outpoint,
                amount: coin.amount,
            });
            sum = sum.checked_add(coin.amount).ok_or_else(insufficient)?;
            depth = depth.max(depth_of(&coin));
            if needed(spends.len()).is_some_and(|need| sum >= need) {
                return Ok(Selection {
                    spends,
                    depth: depth.saturating_add(1),
                });
            }
        }
        Err(insufficient())
    }
}

/// 0 for a confirmed coin, else its chain depth.
fn depth_of(coin: &Coin) -> u32 {
    match coin.origin {
        Origin::Confirmed { .. } => 0,
        Origin::Unconfirmed { depth, .. } => depth,
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash as _;

    use super::*;

    fn outpoint(n: u8) -> OutPoint {
        OutPoint::new(Txid::from_byte_array([n; 32]), 0)
    }

    fn confirmed(sat: u64, height: u64, coinbase: bool) -> Coin {
        Coin {
            amount: Amount::from_sat(sat),
            origin: Origin::Confirmed { height, coinbase },
            change_order: None,
        }
    }

    /// 300 sat of fee per input plus 294 sat of change.
    fn needed(inputs: usize) -> Option<Amount> {
        Some(Amount::from_sat(300 * inputs as u64 + 294))
    }

    #[test]
    fn immature_coinbase_is_not_spent() {
        let mut coins = Coins::default();
        coins.set_confirmed([(outpoint(1), confirmed(5_000_000_000, 50, true))]);
        let err = coins.select(148, needed).unwrap_err();
        assert!(matches!(err, CoinError::Insufficient { .. }));
        assert_eq!(err.kind(), ErrorKind::InsufficientFunds);
        // Spendable in the block after the tip once tip + 1 - height reaches 100.
        assert!(coins.select(149, needed).is_ok());
    }

    #[test]
    fn chains_on_the_latest_change_and_reserves_inputs() {
        let mut coins = Coins::default();
        coins.set_confirmed([(outpoint(1), confirmed(1_000_000, 10, false))]);
        let first = coins.select(200, needed).unwrap();
        assert_eq!(first.spends[0].outpoint, outpoint(1));
        assert_eq!(first.depth, 1);
        let a = Txid::from_byte_array([0xa; 32]);
        coins.record(
            a,
            &[outpoint(1)],
            Some((1, Amount::from_sat(999_000))),
            first.depth,
        );

        let second = coins.select(200, needed).unwrap();
        assert_eq!(second.spends[0].outpoint, OutPoint::new(a, 1));
        assert_eq!(second.depth, 2);
        assert_eq!(coins.spender_of(&outpoint(1)), Some(a));
    }

    #[test]
    fn keeps_chaining_on_the_change_once_it_confirms() {
        let mut coins = Coins::default();
        coins.set_confirmed([(outpoint(1), confirmed(1_000_000, 10, false))]);
        let a = Txid::from_byte_array([0xa; 32]);
        coins.record(a, &[outpoint(1)], Some((1, Amount::from_sat(999_000))), 1);
        let change = OutPoint::new(a, 1);
        // The change confirms (seen by a rescan), and a bigger coin arrives.
        coins.set_confirmed([
            (change, confirmed(999_000, 11, false)),
            (outpoint(2), confirmed(5_000_000, 11, false)),
        ]);
        let selection = coins.select(200, needed).unwrap();
        assert_eq!(selection.spends[0].outpoint, change);
        assert_eq!(selection.depth, 1);
    }

    #[test]
    fn prefers_confirmed_coins_when_the_chain_is_at_its_limit() {
        let mut coins = Coins::default();
        coins.set_confirmed([(outpoint(1), confirmed(10_000, 10, false))]);
        let a = Txid::from_byte_array([0xa; 32]);
        coins.record(
            a,
            &[],
            Some((1, Amount::from_sat(50_000))),
            MAX_UNCONFIRMED_CHAIN,
        );
        let selection = coins.select(200, needed).unwrap();
        assert_eq!(selection.spends[0].outpoint, outpoint(1));
        assert_eq!(selection.depth, 1);
    }

    #[test]
    fn accumulates_largest_first() {
        let mut coins = Coins::default();
        coins.set_confirmed([
            (outpoint(1), confirmed(400, 10, false)),
            (outpoint(2), confirmed(500, 10, false)),
            (outpoint(3), confirmed(300, 10, false)),
        ]);
        let selection = coins.select(200, needed).unwrap();
        let chosen: Vec<_> = selection.spends.iter().map(|s| s.outpoint).collect();
        assert_eq!(chosen, vec![outpoint(2), outpoint(1)]);
    }

    #[test]
    fn rescan_keeps_unconfirmed_change_and_drops_spent_coins() {
        let mut coins = Coins::default();
        coins.set_confirmed([(outpoint(1), confirmed(1_000_000, 10, false))]);
        let a = Txid::from_byte_array([0xa; 32]);
        coins.record(a, &[outpoint(1)], Some((1, Amount::from_sat(999_000))), 1);
        coins.set_confirmed([(outpoint(2), confirmed(7_000, 11, false))]);
        assert!(coins.get(&outpoint(1)).is_none());
        assert!(coins.get(&OutPoint::new(a, 1)).is_some());
        coins.drop_replaced(a, 1);
        assert!(coins.get(&OutPoint::new(a, 1)).is_none());
    }
}
