//! Setup shared by the integration test files (`mod common;` in each). Every test binary
//! compiles this module and uses a different part of it, hence the `dead_code` allowance.

#![allow(dead_code)]

pub mod evm;
pub mod scout;
pub mod solana;
