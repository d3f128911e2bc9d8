//! Solana keys in the Solana CLI's format (a JSON array of the 64 keypair bytes), from a file
//! or an environment variable. Errors name where the key was read from, never the key.

use solana_sdk::signature::Keypair;
use symbiote::secret::SecretSource;

/// Reads a keypair from `<name>_file` or `<name>_env` (at most one may be given); `None` when
/// neither is.
pub fn load(
    name: &str,
    file: Option<&str>,
    env: Option<&str>,
    what: &str,
) -> Result<Option<Keypair>, String> {
    let source = SecretSource::from_settings(name, file.map(Into::into), env.map(Into::into))
        .map_err(|e| format!("{what}: {e}"))?;
    let Some(source) = source else {
        return Ok(None);
    };
    let setting = source.setting(name);
    let secret = source
        .read()
        .map_err(|e| format!("{what}: {setting}: {e}"))?;
    let origin = format!("{setting} {}", secret.origin());
    parse(secret.expose(), &origin, what).map(Some)
}

fn parse(text: &str, origin: &str, what: &str) -> Result<Keypair, String> {
    let bytes: Vec<u8> = serde_json::from_str(text.trim()).map_err(|_| {
        format!("{what}: {origin} is not a JSON array of bytes (the Solana CLI keypair format)")
    })?;
    Keypair::try_from(bytes.as_slice())
        .map_err(|_| format!("{what}: {origin} does not hold a valid 64-byte ed25519 keypair"))
}

/// The Solana CLI format of a keypair, for writing key files in tests and tools.
pub fn to_json(keypair: &Keypair) -> String {
    serde_json::to_string(&keypair.to_bytes().to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_sdk::signature::Signer;

    #[test]
    fn round_trip_and_errors_do_not_leak() {
        let key = Keypair::new();
        let json = to_json(&key);
        assert_eq!(
            parse(&json, "x", "relayer key").unwrap().pubkey(),
            key.pubkey()
        );
        let err = parse("[1,2,3]", "key file k.json", "relayer key").unwrap_err();
        assert!(err.contains("k.json"), "{err}");
        let err = parse("secret words", "key file k.json", "relayer key").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
