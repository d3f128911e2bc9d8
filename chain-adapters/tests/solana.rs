//! The Solana adapter against a real local Solana test validator: memo anchors, vault deposits
//! (SOL and SPL, with and without a memo), re-submission after blockhash expiry, and releases
//! that are never paid twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chain_adapters::solana::deposits::recipient_memo;
use chain_adapters::solana::keys;
use chain_adapters::{
    AnchorRequest, DepositCursor, ErrorKind, HostchainAdapter, ObservedDeposit, ReleaseOrder,
    TxStatus,
};
use common::solana::{SOL, TIMEOUT, airdrop, send};
use devnet::SolanaValidator;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;
use symbiote::anchor::AnchorPayload;
use symbiote::crypto::Keypair as SymbioteKey;
use symbiote::hash::Hash;
use symbiote::types::{
    Amount, Height, HostAddress, HostchainId, Nonce, Sequence, SymbioteId, TokenId,
};

struct Setup {
    _validator: SolanaValidator,
    rpc: RpcClient,
    dir: tempfile::TempDir,
    relayer: Keypair,
    vault: Keypair,
}

async fn setup() -> Setup {
    let validator = SolanaValidator::start().await.unwrap();
    let rpc = RpcClient::new_with_commitment(
        validator.rpc_url().to_string(),
        CommitmentConfig::confirmed(),
    );
    let relayer = Keypair::new();
    let vault = Keypair::new();
    airdrop(&rpc, &relayer.pubkey(), 10 * SOL).await;
    airdrop(&rpc, &vault.pubkey(), 10 * SOL).await;
    Setup {
        _validator: validator,
        rpc,
        dir: tempfile::tempdir().unwrap(),
        relayer,
        vault,
    }
}

impl Setup {
    async fn adapter(&self, tokens: &[Pubkey]) -> Arc<dyn HostchainAdapter> {
        let relayer_file = self.dir.path().join("relayer.json");
        let vault_file = self.dir.path().join("vault.json");
        std::fs::write(&relayer_file, keys::to_json(&self.relayer)).unwrap();
        std::fs::write(&vault_file, keys::to_json(&self.vault)).unwrap();
        let config = serde_json::json!({
            "rpc_url": self.rpc.url(),
            "key_file": relayer_file,
            "vault_key_file": vault_file,
            "tokens": tokens.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        chain_adapters::build("solana", HostchainId::new("solana-local").unwrap(), config)
            .await
            .unwrap()
    }

    /// Creates a mint with `decimals` 0 and an account of `owner` holding `amount`.
    async fn token(&self, owner: &Keypair, amount: u64) -> Pubkey {
        let mint = Keypair::new();
        let token = spl_token_interface::ID;
        let rent = self
            .rpc
            .get_minimum_balance_for_rent_exemption(82)
            .await
            .unwrap();
        let owner_ata =
            spl_associated_token_account_interface::address::get_associated_token_address(
                &owner.pubkey(),
                &mint.pubkey(),
            );
        let vault_ata =
            spl_associated_token_account_interface::address::get_associated_token_address(
                &self.vault.pubkey(),
                &mint.pubkey(),
            );
        let payer = &self.relayer;
        let ixs = vec![
            solana_system_interface::instruction::create_account(&payer.pubkey(), &mint.pubkey(), rent, 82, &token),
            spl_token_interface::instruction::initialize_mint2(&token, &mint.pubkey(), &payer.pubkey(), None, 0).unwrap(),
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &payer.pubkey(), &owner.pubkey(), &mint.pubkey(), &token,
            ),
            spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                &payer.pubkey(), &self.vault.pubkey(), &mint.pubkey(), &token,
            ),
            spl_token_interface::instruction::mint_to(&token, &mint.pubkey(), &owner_ata, &payer.pubkey(), &[], amount).unwrap(),
        ];
        send(&self.rpc, &ixs, payer, &[payer, &mint]).await;
        let _ = vault_ata;
        mint.pubkey()
    }
}

fn memo(text: &str, signer: &Pubkey) -> Instruction {
    spl_memo_interface::instruction::build_memo(
        &spl_memo_interface::v3::id(),
        text.as_bytes(),
        &[signer],
    )
}

fn request(sequence: u64) -> AnchorRequest {
    AnchorRequest {
        symbiote: SymbioteId::from_name("solana-test"),
        payload: AnchorPayload {
            sequence: Sequence::new(sequence),
            root: Hash([sequence as u8; 32]),
        },
        from: Height::new(1),
        to: Height::new(10),
        cosignatures: vec![],
    }
}

async fn wait_final(adapter: &dyn HostchainAdapter, tx: &chain_adapters::PreparedTx) -> TxStatus {
    let started = Instant::now();
    loop {
        let status = adapter.anchorer().status(tx, None).await.unwrap();
        if matches!(status, TxStatus::Included { fin: true, .. }) {
            return status;
        }
        assert!(started.elapsed() < TIMEOUT, "not final: {status:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn anchor_is_sent_finalized_and_read_back() {
    let s = setup().await;
    let adapter = s.adapter(&[]).await;
    let anchorer = adapter.anchorer();
    let prepared = anchorer.prepare_anchor(&request(7)).await.unwrap();
    // Stored and reloaded as the relayer would.
    let stored: chain_adapters::PreparedTx =
        serde_json::from_str(&serde_json::to_string(&prepared).unwrap()).unwrap();
    anchorer.broadcast(&stored).await.unwrap();
    anchorer.broadcast(&stored).await.unwrap(); // idempotent
    let status = wait_final(adapter.as_ref(), &stored).await;
    anchorer.broadcast(&stored).await.unwrap(); // still harmless once final
    let read = anchorer.read_anchor(&stored.id).await.unwrap();
    assert_eq!(read.payload, request(7).payload);
    assert!(read.fin);
    // A verifier reads no key: it names the keys whose memos count, and only those count.
    let reader = |trusted: Vec<String>| {
        chain_adapters::registry::reader(
            "solana",
            HostchainId::new("solana-local").unwrap(),
            serde_json::json!({ "rpc_url": s.rpc.url(), "trusted_anchor_signers": trusted }),
        )
    };
    let err = reader(vec![])
        .await
        .err()
        .expect("a reader without trusted keys");
    assert!(err.message.contains("trusted_anchor_signers"), "{err}");
    let trusting = reader(vec![s.relayer.pubkey().to_string()]).await.unwrap();
    assert_eq!(
        trusting.read_anchor(&stored.id).await.unwrap().payload,
        request(7).payload
    );
    let stranger = reader(vec![Keypair::new().pubkey().to_string()])
        .await
        .unwrap();
    let err = stranger.read_anchor(&stored.id).await.unwrap_err();
    assert!(err.message.contains("trusted relayer key"), "{err}");
    if let TxStatus::Included { inclusion, .. } = status {
        assert_eq!(read.inclusion.height, inclusion.height);
        assert!(!inclusion.block_hash.is_empty());
    }
    // Replacing a transaction that landed is refused.
    let err = anchorer.replace(&stored).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Stale);
    // A transaction without an anchor memo is not an anchor.
    let other = Keypair::new();
    airdrop(&s.rpc, &other.pubkey(), SOL).await;
    let blockhash = s.rpc.get_latest_blockhash().await.unwrap();
    let tx = Transaction::new_signed_with_payer(
        &[memo("hello", &other.pubkey())],
        Some(&other.pubkey()),
        &[&other],
        blockhash,
    );
    let signature = s.rpc.send_and_confirm_transaction(&tx).await.unwrap();
    let err = anchorer
        .read_anchor(&signature.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
}

async fn scan_until(
    adapter: &dyn HostchainAdapter,
    cursor: &mut DepositCursor,
    count: usize,
) -> Vec<ObservedDeposit> {
    let watcher = adapter.deposits().unwrap();
    let mut found = Vec::new();
    let started = Instant::now();
    while found.len() < count {
        let scan = watcher.scan_deposits(cursor).await.unwrap();
        found.extend(scan.deposits);
        *cursor = scan.next;
        assert!(
            started.elapsed() < TIMEOUT,
            "found {} of {count} deposits: {found:?}",
            found.len()
        );
        if found.len() < count {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn deposits_with_memos_are_found_once_and_unroutable_ones_kept() {
    let s = setup().await;
    let depositor = Keypair::new();
    airdrop(&s.rpc, &depositor.pubkey(), 5 * SOL).await;
    let mint = s.token(&depositor, 1_000).await;
    let adapter = s.adapter(&[mint]).await;
    let recipient = SymbioteKey::generate().public();
    let vault = s.vault.pubkey();
    let depositor_ata =
        spl_associated_token_account_interface::address::get_associated_token_address(
            &depositor.pubkey(),
            &mint,
        );
    let vault_ata = spl_associated_token_account_interface::address::get_associated_token_address(
        &vault, &mint,
    );

    // SOL with a memo; SPL with a memo; SOL without a memo.
    send(
        &s.rpc,
        &[
            solana_system_interface::instruction::transfer(
                &depositor.pubkey(),
                &vault,
                250_000_000,
            ),
            memo(&recipient_memo(&recipient), &depositor.pubkey()),
        ],
        &depositor,
        &[&depositor],
    )
    .await;
    send(
        &s.rpc,
        &[
            memo(&recipient.to_string(), &depositor.pubkey()),
            spl_token_interface::instruction::transfer(
                &spl_token_interface::ID,
                &depositor_ata,
                &vault_ata,
                &depositor.pubkey(),
                &[],
                300,
            )
            .unwrap(),
        ],
        &depositor,
        &[&depositor],
    )
    .await;
    send(
        &s.rpc,
        &[solana_system_interface::instruction::transfer(
            &depositor.pubkey(),
            &vault,
            1_000,
        )],
        &depositor,
        &[&depositor],
    )
    .await;

    let mut cursor = DepositCursor::default();
    // Four: the three above and the setup's airdrop into the vault (no memo: unroutable).
    let found = scan_until(adapter.as_ref(), &mut cursor, 4).await;
    assert_eq!(found.len(), 4, "{found:?}");
    let airdrop = found
        .iter()
        .find(|d| d.amount == Amount::new(10 * u128::from(SOL)))
        .unwrap();
    assert_eq!(airdrop.recipient, None);
    let by_amount = |a: u128| found.iter().find(|d| d.amount == Amount::new(a)).unwrap();
    let (unroutable, spl, sol) = (by_amount(1_000), by_amount(300), by_amount(250_000_000));
    assert_eq!(unroutable.amount, Amount::new(1_000));
    assert_eq!(
        unroutable.recipient, None,
        "a deposit without a memo is unroutable, not dropped"
    );
    assert_eq!(spl.amount, Amount::new(300));
    assert_eq!(spl.token, TokenId::new(&mint.to_string()).unwrap());
    assert_eq!(spl.recipient, Some(recipient));
    assert_eq!(spl.id.index, 1, "the transfer is the second instruction");
    assert_eq!(sol.amount, Amount::new(250_000_000));
    assert!(sol.token.is_native());
    assert_eq!(sol.recipient, Some(recipient));
    assert_eq!(sol.depositor, depositor.pubkey().to_string());

    // A restart from the stored cursor finds nothing again, then only the new deposit.
    let restarted = s.adapter(&[mint]).await;
    let again = restarted
        .deposits()
        .unwrap()
        .scan_deposits(&cursor)
        .await
        .unwrap();
    assert!(again.deposits.is_empty(), "{:?}", again.deposits);
    send(
        &s.rpc,
        &[
            solana_system_interface::instruction::transfer(&depositor.pubkey(), &vault, 5_000_000),
            memo(&recipient_memo(&recipient), &depositor.pubkey()),
        ],
        &depositor,
        &[&depositor],
    )
    .await;
    let mut cursor = again.next;
    let new = scan_until(restarted.as_ref(), &mut cursor, 1).await;
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].amount, Amount::new(5_000_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_blockhash_is_resubmitted_and_lands_once() {
    let s = setup().await;
    let adapter = s.adapter(&[]).await;
    let anchorer = adapter.anchorer();
    let original = anchorer.prepare_anchor(&request(3)).await.unwrap();
    // Not sent: while its blockhash is valid, a replacement is refused.
    assert_eq!(
        anchorer.replace(&original).await.unwrap_err().kind,
        ErrorKind::Stale
    );
    let started = Instant::now();
    loop {
        match anchorer.status(&original, None).await.unwrap() {
            TxStatus::Dropped { reason } => {
                assert!(reason.contains("expired"), "{reason}");
                break;
            }
            TxStatus::InMempool => {}
            other => panic!("the unsent transaction cannot be {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "blockhash never expired"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let successor = anchorer.replace(&original).await.unwrap();
    assert_ne!(successor.id, original.id);
    anchorer.broadcast(&successor).await.unwrap();
    wait_final(adapter.as_ref(), &successor).await;
    // The expired original can never land now.
    assert!(anchorer.broadcast(&original).await.is_err());
    assert!(matches!(
        anchorer.status(&original, None).await.unwrap(),
        TxStatus::Dropped { .. }
    ));
    assert_eq!(
        anchorer.read_anchor(&successor.id).await.unwrap().payload,
        request(3).payload
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn release_lands_and_is_never_paid_twice() {
    let s = setup().await;
    let mint = s.token(&s.vault, 500).await;
    let adapter = s.adapter(&[mint]).await;
    let releaser = adapter.releaser().unwrap();
    let destination = Keypair::new().pubkey();
    let order = ReleaseOrder {
        nonce: Nonce::new(41),
        token: TokenId::native(),
        amount: Amount::new(2_000_000),
        destination: HostAddress::new(&destination.to_string()).unwrap(),
        cosignatures: vec![],
    };
    assert!(!releaser.is_released(order.nonce).await.unwrap());
    let tx = releaser.prepare_release(&order).await.unwrap();
    adapter.anchorer().broadcast(&tx).await.unwrap();
    adapter.anchorer().broadcast(&tx).await.unwrap();
    wait_final(adapter.as_ref(), &tx).await;
    assert_eq!(s.rpc.get_balance(&destination).await.unwrap(), 2_000_000);
    assert!(releaser.is_released(order.nonce).await.unwrap());
    assert!(!releaser.is_released(Nonce::new(42)).await.unwrap());

    // An SPL release creates the destination's token account.
    let token_order = ReleaseOrder {
        nonce: Nonce::new(42),
        token: TokenId::new(&mint.to_string()).unwrap(),
        amount: Amount::new(200),
        ..order.clone()
    };
    let tx = releaser.prepare_release(&token_order).await.unwrap();
    adapter.anchorer().broadcast(&tx).await.unwrap();
    wait_final(adapter.as_ref(), &tx).await;
    let ata = spl_associated_token_account_interface::address::get_associated_token_address(
        &destination,
        &mint,
    );
    assert_eq!(
        s.rpc.get_token_account_balance(&ata).await.unwrap().amount,
        "200"
    );
    assert!(releaser.is_released(Nonce::new(42)).await.unwrap());

    // Too little for a new account's rent: refused for good, not retried as "no funds".
    let dust = ReleaseOrder {
        nonce: Nonce::new(44),
        destination: HostAddress::new(&Keypair::new().pubkey().to_string()).unwrap(),
        amount: Amount::new(10),
        ..order.clone()
    };
    let tx = releaser.prepare_release(&dust).await.unwrap();
    let err = adapter.anchorer().broadcast(&tx).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");

    // Bad orders are refused with the reason.
    let bad = ReleaseOrder {
        destination: HostAddress::new("not-a-solana-address").unwrap(),
        nonce: Nonce::new(43),
        ..order
    };
    let err = releaser.prepare_release(&bad).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(err.message.contains("not-a-solana-address"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_and_funding_errors_are_clear() {
    let s = setup().await;
    let chain = HostchainId::new("solana-local").unwrap();
    let err = chain_adapters::build(
        "solana",
        chain.clone(),
        serde_json::json!({"rpc_url": s.rpc.url(), "key_fille": "x"}),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("key_fille"), "{err}");
    let err = chain_adapters::build(
        "solana",
        chain.clone(),
        serde_json::json!({"rpc_url": s.rpc.url()}),
    )
    .await
    .err()
    .unwrap();
    assert!(err.message.contains("key_file or key_env"), "{err}");
    let err = chain_adapters::build("doge", chain.clone(), serde_json::json!({}))
        .await
        .err()
        .unwrap();
    assert!(
        err.message.contains("unknown hostchain kind 'doge'"),
        "{err}"
    );

    // An unfunded relayer key: the send fails as insufficient funds.
    let poor = Keypair::new();
    let file = s.dir.path().join("poor.json");
    std::fs::write(&file, keys::to_json(&poor)).unwrap();
    let adapter = chain_adapters::build(
        "solana",
        chain,
        serde_json::json!({"rpc_url": s.rpc.url(), "key_file": file}),
    )
    .await
    .unwrap();
    let tx = adapter
        .anchorer()
        .prepare_anchor(&request(1))
        .await
        .unwrap();
    let err = adapter.anchorer().broadcast(&tx).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InsufficientFunds, "{err}");
    assert!(err.is_retryable());
}
