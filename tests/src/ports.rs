//! Free loopback ports for local nodes.
//!
//! Ports are drawn at random from a band below Linux's ephemeral range (so that the kernel does
//! not hand them to an outgoing connection between our check and the node's bind), checked by
//! binding TCP and UDP, and remembered for the life of the process so that two nodes started by
//! the same test process never get the same port. Nodes started by other processes are avoided by
//! the bind check; node start-up retries with new ports if a race is lost anyway.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::{Mutex, OnceLock};

use rand::Rng;

use crate::HarnessError;

const BAND: std::ops::Range<u16> = 15_000..32_000;
const ATTEMPTS: usize = 500;

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

fn bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
        && UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// `len` consecutive free ports; returns the first.
pub fn free_range(len: u16) -> Result<u16, HarnessError> {
    if len == 0 || len >= BAND.end - BAND.start {
        return Err(HarnessError::Ports(format!(
            "cannot allocate a range of {len} ports"
        )));
    }
    let mut rng = rand::thread_rng();
    let mut taken = handed_out()
        .lock()
        .map_err(|_| HarnessError::Ports("port registry poisoned".into()))?;
    for _ in 0..ATTEMPTS {
        let base = rng.gen_range(BAND.start..BAND.end - len);
        let range = base..base + len;
        if range.clone().any(|p| taken.contains(&p)) {
            continue;
        }
        if range.clone().all(bindable) {
            taken.extend(range);
            return Ok(base);
        }
    }
    Err(HarnessError::Ports(format!(
        "no {len} consecutive free ports in {}..{} after {ATTEMPTS} attempts",
        BAND.start, BAND.end
    )))
}

/// One free port.
pub fn free_port() -> Result<u16, HarnessError> {
    free_range(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_do_not_overlap_and_are_bindable() {
        let a = free_range(40).unwrap();
        let b = free_range(40).unwrap();
        assert!(a + 40 <= b || b + 40 <= a, "{a} and {b} overlap");
        assert!((b..b + 40).all(bindable));
    }

    #[test]
    fn rejects_an_empty_range() {
        assert!(matches!(free_range(0), Err(HarnessError::Ports(_))));
    }
}
