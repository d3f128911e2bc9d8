//! Intake: the symbiote's new withdrawal orders for this hostchain become releases (`scouting`),
//! from the stored withdrawal cursor on.

use symbiote::wire::MAX_PAGE;

use super::ReleaseStage;
use crate::retry::StepError;

/// How many orders one page asks for.
const PAGE: usize = 100;

impl ReleaseStage {
    /// Records the symbiote's new withdrawal orders for this hostchain.
    pub async fn take_orders(&self) -> Result<(), StepError> {
        let store = &self.ctx.store;
        let mut next = store.withdrawal_cursor(&self.hostchain).await?;
        loop {
            let orders = self.ctx.node.withdrawals(next, PAGE.min(MAX_PAGE)).await?;
            let Some(last) = orders.last().map(|o| o.nonce) else {
                return Ok(());
            };
            if last < next {
                return Err(StepError::Inconsistent(format!(
                    "the node answered withdrawal orders up to {last} when asked from {next}"
                )));
            }
            for order in orders.iter().filter(|o| o.hostchain == self.hostchain) {
                if store.add_release(order).await? {
                    tracing::info!(hostchain = %self.hostchain, nonce = %order.nonce, amount = %order.amount, destination = %order.destination, "withdrawal order");
                }
            }
            next = last.next().ok_or_else(|| {
                StepError::Inconsistent(format!("withdrawal order nonce {last} is the last one"))
            })?;
            store.set_withdrawal_cursor(&self.hostchain, next).await?;
        }
    }
}
