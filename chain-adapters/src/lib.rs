//! Hostchain adapters: one trait family for anchoring, deposit watching, releases and scouting,
//! implemented once per hostchain (Bitcoin, EVM, Solana). This crate knows the symbiote's types
//! and nothing of the relayer's database or scheduling; see ARCHITECTURE section 5.
