//! `docs/relayer.example.toml` stays in sync with the code: it parses, and each hostchain
//! section is accepted by its adapter's configuration (unknown keys are refused there, so a
//! renamed or removed key fails this test).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use relayer::config::Settings;

#[test]
fn example_configuration_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/relayer.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let settings = Settings::parse(&text, path, std::iter::empty()).unwrap();
    let chains = settings.hostchains;
    let kinds: Vec<&str> = chains.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, vec!["bitcoin", "evm", "solana"]);
    for chain in chains {
        let result = match chain.kind.as_str() {
            "bitcoin" => {
                chain_adapters::bitcoin::BitcoinConfig::from_value_with_env(chain.settings, |_| {
                    Some("example".into())
                })
                .map(|_| ())
                .map_err(|e| e.to_string())
            }
            "evm" => chain_adapters::evm::EvmConfig::from_value(chain.settings)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            "solana" => {
                serde_json::from_value::<chain_adapters::solana::SolanaConfig>(chain.settings)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("unknown kind {other}")),
        };
        result.unwrap_or_else(|e| panic!("[hostchains.{}] in the example: {e}", chain.id));
    }
}
