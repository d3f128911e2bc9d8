//! The docker-compose relayer's configuration is valid, and `docker-compose.yml` publishes the
//! endpoints that the tests use with `COMPOSE=1`.

use super::{read, repo_file};

#[test]
fn compose_relayer_configuration_is_valid() {
    let path = repo_file("tools/compose/relayer.toml");
    let file = path.display().to_string();
    let text = read("tools/compose/relayer.toml");
    // The contract addresses come from the init service's /state/evm.env.
    let vars = [
        (
            "RELAYER__HOSTCHAINS__EVM_31337__ANCHOR_CONTRACT",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ),
        (
            "RELAYER__HOSTCHAINS__EVM_31337__BRIDGE_CONTRACT",
            "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        ),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let settings = relayer::config::Settings::parse(&text, &file, vars.into_iter()).unwrap();
    let config = &settings.config;
    let compose = read("docker-compose.yml");
    for (what, url) in [
        ("symbiote", config.symbiote.node_url.as_str()),
        ("database", config.database.url.as_str()),
    ] {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.rsplit('@').next())
            .and_then(|rest| rest.split(':').next())
            .unwrap();
        assert!(
            compose.contains(&format!("\n  {host}:\n")),
            "{what} host {host} is not a service of docker-compose.yml"
        );
    }
    let chains = settings.hostchains.clone();
    assert_eq!(chains.len(), 3);
    for chain in chains {
        let result = match chain.kind.as_str() {
            "bitcoin" => {
                chain_adapters::bitcoin::BitcoinConfig::from_value_with_env(chain.settings, |_| {
                    Some("symbiote".into())
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
        result.unwrap_or_else(|e| panic!("[hostchains.{}] of tools/compose: {e}", chain.id));
    }
}

#[test]
fn compose_publishes_the_endpoints_the_tests_use() {
    use devnet::compose;
    let file = read("docker-compose.yml");
    for (name, default) in [
        compose::ANVIL_URL,
        compose::BITCOIND_URL,
        compose::SOLANA_URL,
        compose::POSTGRES_URL,
    ] {
        let port = default.rsplit(':').next().unwrap();
        let port = port.split('/').next().unwrap();
        assert!(
            file.contains(&format!("\"{port}:{port}\"")),
            "docker-compose.yml does not publish port {port}, the default of {name}"
        );
    }
}
