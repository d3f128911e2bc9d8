//! The node's store and chain survive a commit whose caller gave up once the database had the
//! block: committing the same finalized block again completes it, and another block at a
//! stored height is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use symbiote::block::FinalizedBlock;
use symbiote::certificate::{QuorumBuilder, sign_vote};
use symbiote::crypto::{Keypair, PublicKey};
use symbiote::genesis::Genesis;
use symbiote::state::{Entry, StateKey};
use symbiote::tx::{Asset, SignedTransaction, Transaction};
use symbiote::tx::{Relayer, RelayerSet};
use symbiote::types::{Amount, Height, Nonce, TimestampMs};
use symbiote::validators::{Validator, ValidatorSet};
use symbiote_node::chain::Chain;
use symbiote_node::store::{Store, StoreError};

fn genesis_of(validator: &Keypair, balances: Vec<(PublicKey, Amount)>) -> Genesis {
    Genesis {
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
        balances,
    }
}

fn finalize(
    genesis: &Genesis,
    validator: &Keypair,
    block: symbiote::block::Block<SignedTransaction>,
) -> FinalizedBlock<SignedTransaction> {
    let hash = block.header.hash();
    let mut quorum = QuorumBuilder::new(
        genesis.validators.clone(),
        genesis.symbiote_id(),
        block.header.height,
        hash,
    );
    let vote = sign_vote(
        validator,
        &genesis.symbiote_id(),
        block.header.height,
        &hash,
    );
    quorum.add_vote(&validator.public(), vote).unwrap();
    FinalizedBlock {
        block,
        certificate: quorum.build().unwrap(),
    }
}

#[tokio::test]
async fn the_same_block_commits_again_and_a_different_one_is_refused() {
    let validator = Keypair::generate();
    let genesis = genesis_of(&validator, vec![]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("node.sqlite")).await.unwrap();
    let chain = Chain::open(&genesis, store.clone()).await.unwrap();
    let finalize = |block| finalize(&genesis, &validator, block);
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

/// A node restarted from its database has the same state root, and proves entries at every
/// finalized height, each against that height's header, as they were then.
#[tokio::test]
async fn a_restarted_node_keeps_its_root_and_proves_past_heights() {
    let validator = Keypair::generate();
    let user = Keypair::generate();
    let genesis = genesis_of(&validator, vec![(user.public(), Amount::new(1_000))]);
    let symbiote = genesis.symbiote_id();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.sqlite");
    let recipient = Keypair::generate().public();
    let chain = Chain::open(&genesis, Store::open(&path).await.unwrap())
        .await
        .unwrap();
    for height in 1..=5u64 {
        let transfer = Transaction::Transfer {
            to: recipient,
            asset: Asset::Native,
            amount: Amount::new(u128::from(height)),
        };
        let tx = SignedTransaction::sign(&user, symbiote, Nonce::new(height - 1), transfer);
        chain.submit(tx).await.unwrap();
        let block = chain
            .build_block(validator.public(), TimestampMs::new(1_000 * height))
            .await
            .unwrap();
        assert_eq!(block.transactions.len(), 1);
        chain
            .commit(finalize(&genesis, &validator, block))
            .await
            .unwrap();
    }
    let head = chain.head().await;
    drop(chain);

    let chain = Chain::open(&genesis, Store::open(&path).await.unwrap())
        .await
        .unwrap();
    assert_eq!(chain.head().await, head);
    assert_eq!(
        chain.with_state(|s| s.root()).await,
        head.state_root,
        "the state root after the restart"
    );
    // After block h the recipient holds 1 + 2 + ... + h.
    for height in 0..=5u64 {
        let (header, proofs) = chain
            .prove(
                Some(Height::new(height)),
                vec![StateKey::Account(recipient)],
            )
            .await
            .unwrap();
        assert_eq!(header.height, Height::new(height));
        let entry = proofs[0].verify(&header.state_root).unwrap();
        let expected = u128::from(height * (height + 1) / 2);
        match entry {
            Some(Entry::Account(account)) => {
                assert_eq!(account.balances[&Asset::Native], Amount::new(expected))
            }
            None => assert_eq!(expected, 0, "at height {height}"),
            other => panic!("unexpected entry {other:?}"),
        }
        // The same proof does not check against another height's root.
        if height > 0 {
            let (other, _) = chain
                .prove(Some(Height::new(height - 1)), vec![])
                .await
                .unwrap();
            assert!(proofs[0].verify(&other.state_root).is_err());
        }
    }
}
