//! Findings from what the bytecode analysis and the function inventory found in one piece of
//! code. Every detail starts with `origin`, which names followed code (empty for the
//! destination's own code).

use super::bytecode::{Analysis, CallSite, Operand};
use super::selectors::{self, Category, Selector};
use crate::scout::{Finding, Severity};

/// Adds the finding `code` with `origin` before its detail.
pub(super) fn add(
    out: &mut Vec<Finding>,
    origin: &str,
    code: &str,
    severity: Severity,
    detail: impl AsRef<str>,
) {
    out.push(Finding::new(
        code,
        severity,
        format!("{origin}{}", detail.as_ref()),
    ));
}

/// `pc 12, 40` for a list of offsets.
fn offsets(pcs: impl IntoIterator<Item = usize>) -> String {
    let pcs: Vec<String> = pcs.into_iter().map(|pc| pc.to_string()).collect();
    format!("pc {}", pcs.join(", "))
}

/// `CALL at pc 107 to 0x…` for each call site.
fn call_sites(sites: &[&CallSite]) -> String {
    let described: Vec<String> = sites
        .iter()
        .map(|site| match site.target {
            Operand::Constant(_) => match site.target.address() {
                Some(to) => format!("pc {} to {to}", site.pc),
                None => format!("pc {}", site.pc),
            },
            Operand::SelfAddress => format!("pc {} to itself", site.pc),
            _ => format!("pc {} to an address computed at run time", site.pc),
        })
        .collect();
    described.join("; ")
}

/// The findings of dangerous opcodes and value-moving calls; `proxy` says the code's
/// `DELEGATECALL`s are an EIP-1967 proxy's, already followed.
pub fn opcodes(out: &mut Vec<Finding>, origin: &str, analysis: &Analysis, proxy: bool) {
    if !analysis.selfdestructs.is_empty() {
        add(
            out,
            origin,
            "selfdestruct",
            Severity::Malicious,
            format!(
                "reachable SELFDESTRUCT at {}",
                offsets(analysis.selfdestructs.iter().copied())
            ),
        );
    }
    if !analysis.create2s.is_empty() && !analysis.selfdestructs.is_empty() {
        add(
            out,
            origin,
            "metamorphic-create2",
            Severity::Malicious,
            format!(
                "CREATE2 at {} beside SELFDESTRUCT: code at a CREATE2 address can be destroyed \
                 and redeployed different",
                offsets(analysis.create2s.iter().copied())
            ),
        );
    }
    if let Some(at) = analysis.metamorphic_init_code {
        add(
            out,
            origin,
            "metamorphic-init-code",
            Severity::Malicious,
            format!(
                "the metamorphic contract init code at byte {at}: deploys copies of other code"
            ),
        );
    }
    if !analysis.callcodes.is_empty() {
        add(
            out,
            origin,
            "callcode",
            Severity::Suspicious,
            format!(
                "CALLCODE at {}: runs foreign code on this contract's storage",
                offsets(analysis.callcodes.iter().map(|s| s.pc))
            ),
        );
    }
    let variable: Vec<&CallSite> = analysis
        .delegatecalls
        .iter()
        .filter(|s| !matches!(s.target, Operand::Constant(_) | Operand::SelfAddress))
        .collect();
    if !variable.is_empty() && !proxy {
        add(
            out,
            origin,
            "delegatecall-variable-target",
            Severity::Suspicious,
            format!(
                "DELEGATECALL at {} to an address computed at run time (not a constant, not an \
                 EIP-1967 slot that was followed): whoever sets it controls this contract",
                offsets(variable.iter().map(|s| s.pc))
            ),
        );
    }
    let forwards: Vec<&CallSite> = analysis
        .calls
        .iter()
        .filter(|s| s.value == Operand::CallValue)
        .collect();
    if !forwards.is_empty() {
        add(
            out,
            origin,
            "forwards-call-value",
            Severity::Suspicious,
            format!(
                "passes the value it receives on (CALL with CALLVALUE at {}): what is sent here \
                 ends up elsewhere",
                call_sites(&forwards)
            ),
        );
    }
    let sweeps: Vec<&CallSite> = analysis
        .calls
        .iter()
        .filter(|s| s.value == Operand::SelfBalance)
        .collect();
    if !sweeps.is_empty() {
        add(
            out,
            origin,
            "sweeps-balance",
            Severity::Suspicious,
            format!(
                "sends its whole balance away (CALL with SELFBALANCE at {})",
                call_sites(&sweeps)
            ),
        );
    }
}

/// One finding per category of known functions found, then the whole inventory.
pub fn inventory(out: &mut Vec<Finding>, origin: &str, found: &[Selector]) {
    let mut categories: Vec<(Category, Vec<&'static str>)> = Vec::new();
    for selector in found {
        if let Some((signature, category)) = selectors::known(selector) {
            match categories.iter_mut().find(|(c, _)| *c == category) {
                Some((_, signatures)) => signatures.push(signature),
                None => categories.push((category, vec![signature])),
            }
        }
    }
    categories.sort();
    for (category, mut signatures) in categories {
        if let Some((code, severity)) = category.finding() {
            signatures.sort_unstable();
            add(out, origin, code, severity, signatures.join(", "));
        }
    }
    if !found.is_empty() {
        let mut sorted = found.to_vec();
        sorted.sort_unstable();
        let described: Vec<String> = sorted.iter().map(selectors::describe).collect();
        add(
            out,
            origin,
            "function-inventory",
            Severity::Info,
            format!("{} functions: {}", sorted.len(), described.join(", ")),
        );
    }
}
