//! Reading inspections in the scout tests.

use chain_adapters::{Finding, Inspection};

/// The finding with `code`, or a failure that shows the whole inspection.
pub fn finding<'a>(inspection: &'a Inspection, code: &str) -> &'a Finding {
    inspection
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no `{code}` finding in {inspection:#?}"))
}

/// The codes of all findings, in order.
pub fn codes(inspection: &Inspection) -> Vec<&str> {
    inspection
        .findings
        .iter()
        .map(|f| f.code.as_str())
        .collect()
}
