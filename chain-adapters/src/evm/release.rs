//! Releases on an EVM chain: a call of the SymbioteBridge contract's
//! `release(nonce, token, recipient, amount, signatures)`, authorized by a threshold of the
//! relayer set over the EIP-712 message
//! `Release(uint256 nonce,address token,address recipient,uint256 amount)` in the domain
//! ("SymbioteBridge", "1", chain id, bridge address). The contract consumes a release nonce
//! once, whatever becomes of it (paid, queued by the limits, cancelled), so a release is never
//! paid twice; `isReleased` says whether the nonce is consumed.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::{SolCall, SolStruct};
use async_trait::async_trait;
use symbiote::types::{Amount, Nonce, TokenId};

use super::EvmAdapter;
use super::anchor::domain;
use super::bindings::{BRIDGE_DOMAIN_NAME, SymbioteBridge, typed};
use super::transactions::Purpose;
use crate::anchor::PreparedTx;
use crate::bridge::{BridgeLimits, ReleaseOrder, ReleaseQueue, ReleaseState, Releaser};
use crate::error::{AdapterResult, ErrorKind};

/// What the bridge did with a release nonce (its `releaseStatus`). A nonce is consumed by its
/// first accepted release: `is_released` is true for all but [`ReleaseStatus::Unused`], so only
/// this tells a paid release from one that waits in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseStatus {
    /// Not consumed (`None` in the contract): a release with this nonce may be submitted.
    Unused,
    /// Paid, at once or by `executeQueued`.
    Released,
    /// Held back by the bridge's limits: payable by anyone with `executeQueued` once its
    /// delay has passed, unless the relayers cancel it first.
    Queued,
    /// Cancelled while queued (`cancelQueued`): never paid; the nonce stays consumed.
    Cancelled,
}

impl ReleaseStatus {
    /// The status of the contract's enum value `value`, if it is one.
    pub fn from_contract(value: u8) -> Option<ReleaseStatus> {
        match value {
            0 => Some(ReleaseStatus::Unused),
            1 => Some(ReleaseStatus::Released),
            2 => Some(ReleaseStatus::Queued),
            3 => Some(ReleaseStatus::Cancelled),
            _ => None,
        }
    }
}

impl EvmAdapter {
    /// What the bridge did with release nonce `nonce`.
    pub async fn release_status(&self, nonce: Nonce) -> AdapterResult<ReleaseStatus> {
        let bridge = self.bridge("release_status")?;
        let value = SymbioteBridge::new(bridge, &self.provider)
            .releaseStatus(U256::from(nonce.get()))
            .call()
            .await
            .map_err(|e| self.contract_err("releaseStatus", &e))?;
        ReleaseStatus::from_contract(value).ok_or_else(|| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("releaseStatus({nonce}) is {value}, not a status the bridge defines"),
            )
        })
    }

    /// The contract address of `token` (`address(0)` for the native coin); one that is not an
    /// EVM address is `Rejected`, with `context` before the message.
    fn token_address(&self, token: &TokenId, context: &str) -> AdapterResult<Address> {
        if token.is_native() {
            return Ok(Address::ZERO);
        }
        token.as_str().parse().map_err(|e| {
            self.err(
                ErrorKind::Rejected,
                format!("{context}token '{token}' is not an EVM address ({e})"),
            )
        })
    }

    /// The typed-data message of `order`; a destination or token that is not an EVM address
    /// is `Rejected`.
    pub fn release_message(&self, order: &ReleaseOrder) -> AdapterResult<typed::Release> {
        let recipient: Address = order.destination.as_str().parse().map_err(|e| {
            self.err(
                ErrorKind::Rejected,
                format!(
                    "release {}: destination '{}' is not an EVM address ({e})",
                    order.nonce, order.destination
                ),
            )
        })?;
        let token = self.token_address(&order.token, &format!("release {}: ", order.nonce))?;
        Ok(typed::Release {
            nonce: U256::from(order.nonce.get()),
            token,
            recipient,
            amount: U256::from(order.amount.get()),
        })
    }

    /// The EIP-712 digest of `order` that the bridge checks (its `releaseDigest`).
    pub async fn release_digest(&self, order: &ReleaseOrder) -> AdapterResult<B256> {
        let bridge = self.bridge("a release")?;
        let chain_id = self.chain_id().await?;
        let message = self.release_message(order)?;
        Ok(message.eip712_signing_hash(&domain(BRIDGE_DOMAIN_NAME, chain_id, bridge)))
    }
}

#[async_trait]
impl Releaser for EvmAdapter {
    async fn sign_release(&self, order: &ReleaseOrder) -> AdapterResult<Option<Vec<u8>>> {
        let digest = self.release_digest(order).await?;
        self.sign_digest(&digest).map(Some)
    }

    /// Builds the release call. The gas estimate executes it, so an order whose nonce the
    /// bridge already consumed fails here with `Rejected` (`NonceAlreadyUsed`).
    async fn prepare_release(&self, order: &ReleaseOrder) -> AdapterResult<PreparedTx> {
        let bridge = self.bridge("a release")?;
        let digest = self.release_digest(order).await?;
        let signatures = self
            .authorization(bridge, &digest, &order.cosignatures)
            .await?;
        let message = self.release_message(order)?;
        let call = SymbioteBridge::releaseCall {
            nonce: message.nonce,
            token: message.token,
            recipient: message.recipient,
            amount: message.amount,
            signatures,
        };
        self.prepare_call(
            bridge,
            call.abi_encode().into(),
            Purpose::Release {
                nonce: order.nonce.get(),
            },
        )
        .await
    }

    async fn release_state(&self, nonce: Nonce) -> AdapterResult<ReleaseState> {
        Ok(match self.release_status(nonce).await? {
            ReleaseStatus::Unused => ReleaseState::Unused,
            ReleaseStatus::Released => ReleaseState::Released,
            ReleaseStatus::Cancelled => ReleaseState::Cancelled,
            ReleaseStatus::Queued => {
                let bridge = self.bridge("a queued release")?;
                let queued = SymbioteBridge::new(bridge, &self.provider)
                    .queuedRelease(U256::from(nonce.get()))
                    .call()
                    .await
                    .map_err(|e| self.contract_err("queuedRelease", &e))?;
                ReleaseState::Queued {
                    release_after: u64::try_from(queued.releaseAfter).map_err(|_| {
                        self.err(
                            ErrorKind::InvalidResponse,
                            format!("queued release {nonce}: releaseAfter does not fit 64 bits"),
                        )
                    })?,
                }
            }
        })
    }

    fn queue(&self) -> Option<&dyn ReleaseQueue> {
        Some(self)
    }

    /// Whether the bridge has consumed release nonce `nonce` (paid, queued or cancelled).
    async fn is_released(&self, nonce: Nonce) -> AdapterResult<bool> {
        let bridge = self.bridge("is_released")?;
        SymbioteBridge::new(bridge, &self.provider)
            .isReleased(U256::from(nonce.get()))
            .call()
            .await
            .map_err(|e| self.contract_err("isReleased", &e))
    }
}

#[async_trait]
impl ReleaseQueue for EvmAdapter {
    /// The bridge's `limitOf(token)` and `releasedInWindow(token)`.
    async fn limits(&self, token: &TokenId) -> AdapterResult<BridgeLimits> {
        let bridge = self.bridge("release limits")?;
        let address = self.token_address(token, "")?;
        let contract = SymbioteBridge::new(bridge, &self.provider);
        let limit = contract
            .limitOf(address)
            .call()
            .await
            .map_err(|e| self.contract_err("limitOf", &e))?;
        let window = contract
            .releasedInWindow(address)
            .call()
            .await
            .map_err(|e| self.contract_err("releasedInWindow", &e))?;
        let amount = |value: U256, what: &str| -> AdapterResult<Amount> {
            u128::try_from(value).map(Amount::new).map_err(|_| {
                self.err(
                    ErrorKind::InvalidResponse,
                    format!("{what} of token {token} does not fit 128 bits"),
                )
            })
        };
        Ok(BridgeLimits {
            daily_cap: amount(limit.dailyCap, "dailyCap")?,
            large_transfer: amount(limit.largeTransferThreshold, "largeTransferThreshold")?,
            delay_seconds: u64::try_from(limit.delaySeconds).map_err(|_| {
                self.err(
                    ErrorKind::InvalidResponse,
                    format!("delaySeconds of token {token} does not fit 64 bits"),
                )
            })?,
            released_in_window: amount(window, "releasedInWindow")?,
        })
    }

    /// The latest block's timestamp: the bridge compares `releaseAfter` with it.
    async fn time(&self) -> AdapterResult<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| {
                self.rpc_err(
                    "eth_getBlockByNumber latest",
                    &e,
                    ErrorKind::InvalidResponse,
                )
            })?
            .ok_or_else(|| self.err(ErrorKind::InvalidResponse, "the node has no latest block"))?;
        Ok(block.header.timestamp)
    }

    /// `executeQueued(nonce)`: the gas estimate executes it, so a release that is not queued
    /// or not yet due fails here with `Rejected`.
    async fn prepare_execute(&self, nonce: Nonce) -> AdapterResult<PreparedTx> {
        let bridge = self.bridge("executeQueued")?;
        let call = SymbioteBridge::executeQueuedCall {
            nonce: U256::from(nonce.get()),
        };
        self.prepare_call(
            bridge,
            call.abi_encode().into(),
            Purpose::ExecuteQueued { nonce: nonce.get() },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_statuses_follow_the_contracts_enum_order() {
        let decoded: Vec<Option<ReleaseStatus>> =
            (0..=4).map(ReleaseStatus::from_contract).collect();
        assert_eq!(
            decoded,
            vec![
                Some(ReleaseStatus::Unused),
                Some(ReleaseStatus::Released),
                Some(ReleaseStatus::Queued),
                Some(ReleaseStatus::Cancelled),
                None,
            ]
        );
    }
}
