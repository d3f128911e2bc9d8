//! The Solana scout against a real local test validator: wallets are clean, programs are
//! malicious destinations, token accounts and mints are held with the reason (a delegate, a
//! Token-2022 permanent delegate), and every report names the slot its answer came from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use chain_adapters::solana::keys;
use chain_adapters::{ErrorKind, HostchainAdapter, Inspection, Severity};
use common::scout::{codes, finding};
use common::solana::{SOL, airdrop};
use devnet::SolanaValidator;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use spl_token_2022_interface::extension::ExtensionType;
use symbiote::types::{HostAddress, HostchainId};

/// A validator, a funded payer and an adapter whose scout inspects on it.
struct Scene {
    _validator: SolanaValidator,
    _dir: tempfile::TempDir,
    rpc: RpcClient,
    payer: Keypair,
    adapter: Arc<dyn HostchainAdapter>,
}

impl Scene {
    async fn start() -> Scene {
        let validator = SolanaValidator::start().await.unwrap();
        let rpc = RpcClient::new_with_commitment(
            validator.rpc_url().to_string(),
            CommitmentConfig::confirmed(),
        );
        let payer = Keypair::new();
        airdrop(&rpc, &payer.pubkey(), 10 * SOL).await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("relayer.json");
        std::fs::write(&key_file, keys::to_json(&Keypair::new())).unwrap();
        let config = serde_json::json!({ "rpc_url": rpc.url(), "key_file": key_file });
        let adapter =
            chain_adapters::build("solana", HostchainId::new("solana-local").unwrap(), config)
                .await
                .unwrap();
        Scene {
            _validator: validator,
            _dir: dir,
            rpc,
            payer,
            adapter,
        }
    }

    async fn inspect(&self, address: &Pubkey) -> Inspection {
        self.inspect_at(address, None).await
    }

    async fn inspect_at(&self, address: &Pubkey, slot: Option<u64>) -> Inspection {
        let scout = self
            .adapter
            .scout()
            .expect("the Solana adapter has a scout");
        let inspection = scout.inspect(&host(address), slot).await.unwrap();
        assert_eq!(inspection.address, host(address));
        assert!(inspection.block >= slot.unwrap_or(1), "{inspection:#?}");
        inspection
    }

    /// Sends `instructions` paid by the payer and signed by it and `signers`.
    async fn send(&self, instructions: &[Instruction], signers: &[&Keypair]) {
        let mut all = vec![&self.payer];
        all.extend_from_slice(signers);
        common::solana::send(&self.rpc, instructions, &self.payer, &all).await;
    }

    async fn rent(&self, space: usize) -> u64 {
        self.rpc
            .get_minimum_balance_for_rent_exemption(space)
            .await
            .unwrap()
    }

    /// A new SPL Token mint (decimals 0) whose authority is the payer.
    async fn mint(&self) -> Pubkey {
        let mint = Keypair::new();
        let token = spl_token_interface::ID;
        let instructions = [
            solana_system_interface::instruction::create_account(
                &self.payer.pubkey(),
                &mint.pubkey(),
                self.rent(82).await,
                82,
                &token,
            ),
            spl_token_interface::instruction::initialize_mint2(
                &token,
                &mint.pubkey(),
                &self.payer.pubkey(),
                None,
                0,
            )
            .unwrap(),
        ];
        self.send(&instructions, &[&mint]).await;
        mint.pubkey()
    }

    /// A token account of `mint` owned by the payer, holding 100 tokens.
    async fn token_account(&self, mint: &Pubkey) -> Pubkey {
        let account = Keypair::new();
        let token = spl_token_interface::ID;
        let payer = self.payer.pubkey();
        let instructions = [
            solana_system_interface::instruction::create_account(
                &payer,
                &account.pubkey(),
                self.rent(165).await,
                165,
                &token,
            ),
            spl_token_interface::instruction::initialize_account3(
                &token,
                &account.pubkey(),
                mint,
                &payer,
            )
            .unwrap(),
            spl_token_interface::instruction::mint_to(
                &token,
                mint,
                &account.pubkey(),
                &payer,
                &[],
                100,
            )
            .unwrap(),
        ];
        self.send(&instructions, &[&account]).await;
        account.pubkey()
    }
}

fn host(address: &Pubkey) -> HostAddress {
    HostAddress::new(&address.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wallets_are_clean_programs_are_not_and_the_slot_is_recorded() {
    let s = Scene::start().await;

    // A funded wallet, a fresh address, and a fresh program-derived address.
    let wallet = s.inspect(&s.payer.pubkey()).await;
    assert_eq!(codes(&wallet), vec!["system-account"], "{wallet:#?}");
    assert_eq!(wallet.severity(), Severity::Info);
    assert_eq!(wallet.code_hash, None);
    let fresh = s.inspect(&Keypair::new().pubkey()).await;
    assert_eq!(codes(&fresh), vec!["no-account"], "{fresh:#?}");
    assert_eq!(fresh.severity(), Severity::Info);
    let (pda, _) = Pubkey::find_program_address(&[b"vault"], &Pubkey::new_unique());
    let derived = s.inspect(&pda).await;
    assert_eq!(
        codes(&derived),
        vec!["no-account", "off-curve-address"],
        "{derived:#?}"
    );
    assert_eq!(derived.severity(), Severity::Info);

    // The same question from the recorded slot on: the same findings (the account has not
    // changed), answered from that slot or a later one.
    let again = s.inspect_at(&s.payer.pubkey(), Some(wallet.block)).await;
    assert_eq!(again.findings, wallet.findings);

    // The SPL Token program (upgradeable loader) and the System Program (native) are programs.
    let token_program = s.inspect(&spl_token_interface::ID).await;
    assert_eq!(
        token_program.severity(),
        Severity::Malicious,
        "{token_program:#?}"
    );
    assert_eq!(
        finding(&token_program, "program-account").severity,
        Severity::Malicious
    );
    let hash = token_program
        .code_hash
        .clone()
        .expect("the program's code hash");
    assert!(hash.starts_with("0x") && hash.len() == 66, "{hash}");
    let token_2022 = s.inspect(&spl_token_2022_interface::ID).await;
    assert_ne!(token_2022.code_hash, token_program.code_hash);
    // Token-2022 is an upgradeable program here: its code is read from its program data.
    assert!(token_2022.has("program-upgradeable"), "{token_2022:#?}");
    assert!(token_2022.code_hash.is_some());
    let system = s.inspect(&solana_system_interface::program::ID).await;
    assert_eq!(codes(&system)[0], "program-account", "{system:#?}");

    // Bad requests are clear errors.
    let scout = s.adapter.scout().unwrap();
    let err = scout
        .inspect(&HostAddress::new("0xnot-base58").unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("0xnot-base58"), "{err}");

    // A slot the node has not reached: retry later (or on another node).
    let slot = s.rpc.get_slot().await.unwrap();
    let err = scout
        .inspect(&host(&s.payer.pubkey()), Some(slot + 1_000_000))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn token_accounts_and_mints_are_held_with_the_reason() {
    let s = Scene::start().await;
    let mint = s.mint().await;
    let plain = s.token_account(&mint).await;
    let delegated = s.token_account(&mint).await;
    let delegate = Pubkey::new_unique();
    let approve = spl_token_interface::instruction::approve(
        &spl_token_interface::ID,
        &delegated,
        &delegate,
        &s.payer.pubkey(),
        &[],
        40,
    )
    .unwrap();
    s.send(&[approve], &[]).await;

    // A token account is not a wallet; without a delegate, that is all.
    let inspection = s.inspect(&plain).await;
    assert_eq!(codes(&inspection), vec!["token-account"], "{inspection:#?}");
    assert_eq!(inspection.severity(), Severity::Suspicious);
    assert!(
        finding(&inspection, "token-account")
            .detail
            .contains(&mint.to_string())
    );

    let inspection = s.inspect(&delegated).await;
    assert_eq!(
        codes(&inspection),
        vec!["token-account", "token-account-delegate"],
        "{inspection:#?}"
    );
    let found = finding(&inspection, "token-account-delegate");
    assert_eq!(found.severity, Severity::Suspicious);
    assert!(found.detail.contains(&delegate.to_string()), "{found:?}");
    assert!(found.detail.contains("40"), "{found:?}");

    let inspection = s.inspect(&mint).await;
    assert_eq!(codes(&inspection), vec!["token-mint"], "{inspection:#?}");
    assert!(
        finding(&inspection, "token-mint")
            .detail
            .contains("supply 200")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_2022_mint_with_a_permanent_delegate_is_malicious() {
    let s = Scene::start().await;
    let program = spl_token_2022_interface::ID;
    let mint = Keypair::new();
    let delegate = Pubkey::new_unique();
    let space =
        ExtensionType::try_calculate_account_len::<spl_token_2022_interface::state::Mint>(&[
            ExtensionType::PermanentDelegate,
        ])
        .unwrap();
    let instructions = [
        solana_system_interface::instruction::create_account(
            &s.payer.pubkey(),
            &mint.pubkey(),
            s.rent(space).await,
            space as u64,
            &program,
        ),
        spl_token_2022_interface::instruction::initialize_permanent_delegate(
            &program,
            &mint.pubkey(),
            &delegate,
        )
        .unwrap(),
        spl_token_2022_interface::instruction::initialize_mint2(
            &program,
            &mint.pubkey(),
            &s.payer.pubkey(),
            None,
            6,
        )
        .unwrap(),
    ];
    s.send(&instructions, &[&mint]).await;

    let inspection = s.inspect(&mint.pubkey()).await;
    assert_eq!(
        codes(&inspection),
        vec!["token-mint", "token2022-permanent-delegate"],
        "{inspection:#?}"
    );
    assert_eq!(inspection.severity(), Severity::Malicious);
    let found = finding(&inspection, "token2022-permanent-delegate");
    assert!(found.detail.contains(&delegate.to_string()), "{found:?}");
    assert!(
        finding(&inspection, "token-mint")
            .detail
            .contains("Token-2022")
    );
}
