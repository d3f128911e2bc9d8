use super::*;

#[test]
fn height_next_is_checked() {
    assert_eq!(Height::new(4).next(), Some(Height::new(5)));
    assert_eq!(Height::new(u64::MAX).next(), None);
    assert_eq!(Height::new(9).since(Height::new(4)), Some(5));
    assert_eq!(Height::new(4).since(Height::new(9)), None);
    assert_eq!(Height::new(u64::MAX).checked_add(1), None);
}

#[test]
fn amount_arithmetic_is_checked() {
    let max = Amount::new(u128::MAX);
    assert_eq!(max.checked_add(Amount::new(1)), None);
    assert_eq!(Amount::ZERO.checked_sub(Amount::new(1)), None);
    assert_eq!(
        Amount::new(5).checked_sub(Amount::new(3)),
        Some(Amount::new(2))
    );
}

#[test]
fn amount_json_is_a_decimal_string_and_numbers_are_accepted() {
    let amount = Amount::new(u128::MAX);
    let json = serde_json::to_string(&amount).unwrap();
    assert_eq!(json, format!("\"{}\"", u128::MAX));
    assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), amount);
    assert_eq!(
        serde_json::from_str::<Amount>("42").unwrap(),
        Amount::new(42)
    );
    assert!(serde_json::from_str::<Amount>("-1").is_err());
    assert!(serde_json::from_str::<Amount>("\"+1\"").is_err());
    assert!(serde_json::from_str::<Amount>("\"1e3\"").is_err());
}

#[test]
fn hostchain_ids_follow_the_rules() {
    for ok in ["bitcoin-regtest", "evm-31337", "solana-local", "a"] {
        assert_eq!(HostchainId::new(ok).unwrap().as_str(), ok);
    }
    for bad in ["", "Bitcoin", "evm_1", "a b", &"x".repeat(33), "é"] {
        assert!(HostchainId::new(bad).is_err(), "{bad:?}");
    }
    assert!(HostchainId::new(&"x".repeat(32)).is_ok());
}

#[test]
fn host_addresses_and_tokens_follow_the_rules() {
    assert!(HostAddress::new("0x5FbDB2315678afecb367f032d93F642f64180aa3").is_ok());
    assert!(HostAddress::new("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").is_ok());
    assert!(HostAddress::new("").is_err());
    assert!(HostAddress::new("has space").is_err());
    assert!(HostAddress::new("tab\there").is_err());
    assert!(HostAddress::new(&"a".repeat(129)).is_err());
    assert!(HostTxId::new(&"ab".repeat(32)).is_ok());
    assert!(matches!(
        HostTxId::new("a\nb"),
        Err(TypeError::InvalidHostTxId { .. })
    ));
    assert!(TokenId::native().is_native());
    assert!(!TokenId::new("0xabc").unwrap().is_native());
    assert!(matches!(
        TokenId::new(""),
        Err(TypeError::InvalidTokenId { .. })
    ));
}

#[test]
fn borsh_decoding_revalidates() {
    let bytes = borsh::to_vec(&"Not-Valid".to_owned()).unwrap();
    assert!(HostchainId::try_from_slice(&bytes).is_err());
    let good = HostchainId::new("evm-31337").unwrap();
    let bytes = borsh::to_vec(&good).unwrap();
    assert_eq!(HostchainId::try_from_slice(&bytes).unwrap(), good);
    let bytes = borsh::to_vec(&String::new()).unwrap();
    assert!(HostAddress::try_from_slice(&bytes).is_err());
    assert!(TokenId::try_from_slice(&bytes).is_err());
}

#[test]
fn canonical_decoding_rejects_an_embedded_invalid_hostchain_id() {
    use crate::codec::{Canonical, CodecError};

    /// A record that embeds validated strings, as transactions do.
    #[derive(Debug, PartialEq, BorshSerialize, BorshDeserialize)]
    struct Route {
        /// The hostchain.
        chain: HostchainId,
        /// The token on it.
        token: TokenId,
    }

    impl Canonical for Route {
        const KIND: &'static str = "route";
        const MAX_ENCODED_LEN: usize = 1 + 4 + 32 + 4 + 128;
    }

    let route = Route {
        chain: HostchainId::new("evm-31337").unwrap(),
        token: TokenId::native(),
    };
    let bytes = route.encode();
    assert_eq!(Route::decode(&bytes).unwrap(), route);
    // Upper-case the first letter of the hostchain id, after the format byte and the
    // string's length prefix.
    let mut bad = bytes.clone();
    bad[5] = b'E';
    let err = Route::decode(&bad).unwrap_err();
    assert!(
        matches!(err, CodecError::Malformed { kind: "route", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("invalid hostchain id"), "{err}");
}

#[test]
fn serde_decoding_revalidates() {
    assert!(serde_json::from_str::<HostchainId>("\"UPPER\"").is_err());
    let id: HostchainId = serde_json::from_str("\"solana-local\"").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"solana-local\"");
    assert_eq!(serde_json::to_string(&Height::new(7)).unwrap(), "7");
}

#[test]
fn symbiote_ids_depend_on_the_name_and_print_as_hex() {
    let a = SymbioteId::from_name("alpha");
    assert_ne!(a, SymbioteId::from_name("beta"));
    assert_eq!(a.to_string().len(), 64);
    assert_eq!(a.to_string().parse::<SymbioteId>().unwrap(), a);
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(json, format!("\"{a}\""));
}

#[test]
fn long_rejected_values_are_shortened_in_errors() {
    let err = HostAddress::new(&" ".repeat(1000)).unwrap_err();
    assert!(err.to_string().len() < 200);
}
