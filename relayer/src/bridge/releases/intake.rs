//! Intake: the symbiote's new withdrawal orders for this hostchain become releases (`scouting`),
//! from the stored withdrawal cursor on. Orders are numbered without gaps; which exist, and
//! what each says, is read with proofs against verified state.

use symbiote::types::Nonce;

use super::ReleaseStage;
use crate::retry::StepError;
use crate::verified::StateAt;

/// How many orders one page asks for.
const PAGE: u64 = 100;

impl ReleaseStage {
    /// Records the symbiote's new withdrawal orders for this hostchain.
    pub async fn take_orders(&self, state: &StateAt<'_>) -> Result<(), StepError> {
        let store = &self.ctx.store;
        let mut next = store
            .withdrawal_cursor(&self.hostchain)
            .await?
            .max(Nonce::new(1));
        let end = state.meta().await?.next_withdrawal;
        while next < end {
            let last = next.get().saturating_add(PAGE).min(end.get());
            let nonces: Vec<Nonce> = (next.get()..last).map(Nonce::new).collect();
            let orders = state.withdrawals(&nonces).await?;
            for nonce in &nonces {
                let Some(order) = orders.get(nonce) else {
                    return Err(StepError::Inconsistent(format!(
                        "withdrawal order {nonce} is proven absent, below the next order {end}"
                    )));
                };
                if order.hostchain == self.hostchain && store.add_release(order).await? {
                    tracing::info!(hostchain = %self.hostchain, nonce = %order.nonce, amount = %order.amount, destination = %order.destination, "withdrawal order");
                }
            }
            next = Nonce::new(last);
            store.set_withdrawal_cursor(&self.hostchain, next).await?;
        }
        Ok(())
    }
}
