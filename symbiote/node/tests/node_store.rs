//! The node's store and chain survive a commit whose caller gave up once the database had the
//! block: committing the same finalized block again completes it, and another block at a
//! stored height is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use symbiote::block::FinalizedBlock;
use symbiote::certificate::{QuorumBuilder, sign_vote};
use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::tx::{Relayer, RelayerSet};
use symbiote::types::{Height, TimestampMs};
use symbiote::validators::{Validator, ValidatorSet};
use symbiote_node::chain::Chain;
use symbiote_node::store::{Store, StoreError};

#[tokio::test]
async fn the_same_block_commits_again_and_a_different_one_is_refused() {
    let validator = Keypair::generate();
    let genesis = Genesis {
        chain_name: "store-test".into(),
        timestamp: TimestampMs::new(1),
        validators: ValidatorSet::new(vec![Validator {
            key: validator.public(),
            weight: 1,
        }])
        .unwrap(),
        hostchains: vec![],
        relayers: RelayerSet {
            members: vec![
                Relayer::new(Keypair::generate().public(), [("evm", &[1; 20][..])]).unwrap(),
            ],
            threshold: 1,
        },
        balances: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("node.sqlite")).await.unwrap();
    let chain = Chain::open(&genesis, store.clone()).await.unwrap();
    let finalize = |block: symbiote::block::Block<_>| {
        let hash = block.header.hash();
        let mut quorum = QuorumBuilder::new(
            genesis.validators.clone(),
            genesis.symbiote_id(),
            block.header.height,
            hash,
        );
        quorum
            .add_vote(
                &validator.public(),
                sign_vote(
                    &validator,
                    &genesis.symbiote_id(),
                    block.header.height,
                    &hash,
                ),
            )
            .unwrap();
        FinalizedBlock {
            block,
            certificate: quorum.build().unwrap(),
        }
    };
    let first = finalize(
        chain
            .build_block(validator.public(), TimestampMs::new(1_000))
            .await
            .unwrap(),
    );
    let other = finalize(
        chain
            .build_block(validator.public(), TimestampMs::new(2_000))
            .await
            .unwrap(),
    );
    assert_ne!(first.block.header.hash(), other.block.header.hash());

    // The database gets block 1 but the chain in memory never hears of it (its caller was
    // cancelled after the database transaction).
    let state = symbiote::state::ChainState::in_memory(&genesis)
        .unwrap()
        .execute_block(Height::new(1), &[])
        .unwrap();
    store.commit_block(&first, &state).await.unwrap();
    assert_eq!(chain.head().await.height, Height::new(0));

    // Committing it again completes it; a different block 1 is refused by the store.
    assert_eq!(chain.commit(first.clone()).await.unwrap(), Height::new(1));
    assert_eq!(chain.head().await.hash(), first.block.header.hash());
    match store.commit_block(&other, &state).await {
        Err(StoreError::ConflictingBlock { height, .. }) => assert_eq!(height, Height::new(1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
}
