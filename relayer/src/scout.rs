//! Scout verdicts and their signed, reproducible reports.
//!
//! A hostchain adapter's [`Scout`](chain_adapters::Scout) inspects a release destination at one
//! block and returns findings computed from the hostchain's RPC alone. The relayer adds its
//! policy (configured allow and deny lists of addresses and code hashes), decides a verdict,
//! and signs a [`ScoutReport`] with its ed25519 key:
//!
//! - `malicious` if any finding is malicious (a deny list match is), `suspicious` if any is
//!   suspicious, else `clean`; an allow-listed destination is `clean` unless it is also denied;
//! - suspicious and malicious releases are held (suspicious ones only with
//!   `hold_suspicious = true`, the default).
//!
//! Persisted format (`version` = 1): the report's bytes are its canonical JSON, which is
//! `serde_json`'s compact serialization of [`ScoutReport`] (fields in declaration order, maps
//! sorted). The report hash is blake3 with the `symbiote/v1/scout-report` prefix over the
//! canonical JSON of the [`ReportBody`]; the signature signs that hash. A report file is
//! accepted only if it is exactly the canonical bytes of what it decodes to (a trailing newline
//! aside), so that any changed byte is refused. Holds and approvals on the symbiote name report
//! hashes, so the evidence is in a symbiote block and anchored with it.

use std::collections::BTreeSet;

use chain_adapters::{Finding, Inspection, Severity};
use serde::{Deserialize, Serialize};
use symbiote::crypto::{self, Keypair, PublicKey, Signature};
use symbiote::hash::{Domain, Hash, hash};
use symbiote::types::{HostAddress, HostchainId, Nonce, SymbioteId};

/// The report layout's version.
pub const REPORT_VERSION: u8 = 1;

crate::persisted_enum!(
    /// A scout's verdict on a destination (in reports and `scout_reports.verdict`).
    Verdict, "verdict" {
        Clean = "clean",
        Suspicious = "suspicious",
        Malicious = "malicious",
    }
);

impl From<Verdict> for crate::store::ScoutDecision {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Clean => crate::store::ScoutDecision::Clean,
            Verdict::Suspicious => crate::store::ScoutDecision::Suspicious,
            Verdict::Malicious => crate::store::ScoutDecision::Malicious,
        }
    }
}

/// A destination named in the configured lists: a hostchain and an address in that
/// hostchain's canonical form (checked by its adapter when the configuration is resolved).
pub type Destination = (HostchainId, HostAddress);

/// The configured lists a verdict applies on top of an inspection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScoutPolicy {
    /// Destinations that pass whatever the scout finds.
    pub allow: BTreeSet<Destination>,
    /// Destinations always held as malicious.
    pub deny: BTreeSet<Destination>,
    /// Code hashes (0x-hex, lower case), of the destination or any code it delegates to.
    pub deny_code_hashes: BTreeSet<String>,
    /// Whether suspicious destinations are held (malicious ones always are).
    pub hold_suspicious: bool,
}

impl ScoutPolicy {
    /// A policy from resolved lists (code hashes are compared in lower case).
    pub fn new(
        allow: impl IntoIterator<Item = Destination>,
        deny: impl IntoIterator<Item = Destination>,
        deny_code_hashes: &[String],
        hold_suspicious: bool,
    ) -> Self {
        ScoutPolicy {
            allow: allow.into_iter().collect(),
            deny: deny.into_iter().collect(),
            deny_code_hashes: deny_code_hashes
                .iter()
                .map(|s| s.trim().to_lowercase())
                .collect(),
            hold_suspicious,
        }
    }

    /// The findings the lists add for the inspected address on `hostchain` (the address in its
    /// canonical form, as the release stage inspects it).
    pub fn findings(&self, hostchain: &HostchainId, inspection: &Inspection) -> Vec<Finding> {
        let destination = (hostchain.clone(), inspection.address.clone());
        let entry = format!("{hostchain}:{}", inspection.address);
        let mut out = Vec::new();
        if self.deny.contains(&destination) {
            out.push(Finding {
                code: "deny-listed-address".into(),
                severity: Severity::Malicious,
                detail: format!("{entry} is on the configured deny list"),
            });
        }
        for code_hash in code_hashes(inspection) {
            if self.deny_code_hashes.contains(&code_hash.to_lowercase()) {
                out.push(Finding {
                    code: "deny-listed-code".into(),
                    severity: Severity::Malicious,
                    detail: format!("code hash {code_hash} is on the configured deny list"),
                });
            }
        }
        if self.allow.contains(&destination) {
            out.push(Finding {
                code: "allow-listed".into(),
                severity: Severity::Info,
                detail: format!("{entry} is on the configured allow list"),
            });
        }
        out
    }

    /// Whether a release with this verdict is held.
    pub fn holds(&self, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Clean => false,
            Verdict::Suspicious => self.hold_suspicious,
            Verdict::Malicious => true,
        }
    }
}

/// Every code hash an inspection saw: the destination's and those of code it follows.
pub fn code_hashes(inspection: &Inspection) -> Vec<String> {
    let mut out: Vec<String> = inspection.code_hash.iter().cloned().collect();
    out.extend(
        inspection
            .followed
            .iter()
            .filter_map(|f| f.code_hash.clone()),
    );
    out
}

/// The verdict on an inspection with the policy's findings: an allow-listed destination is
/// clean unless a deny list names it or its code.
pub fn verdict(inspection: &Inspection, policy_findings: &[Finding]) -> Verdict {
    let denied = policy_findings
        .iter()
        .any(|f| f.severity == Severity::Malicious);
    if denied {
        return Verdict::Malicious;
    }
    if policy_findings.iter().any(|f| f.code == "allow-listed") {
        return Verdict::Clean;
    }
    match inspection.findings.iter().map(|f| f.severity).max() {
        Some(Severity::Malicious) => Verdict::Malicious,
        Some(Severity::Suspicious) => Verdict::Suspicious,
        _ => Verdict::Clean,
    }
}

/// What a report states; the signature signs its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// [`REPORT_VERSION`].
    pub version: u8,
    /// The symbiote whose release this concerns.
    pub symbiote: SymbioteId,
    /// The hostchain (its id in the relayer's configuration and the symbiote's hostchain set).
    pub hostchain: HostchainId,
    /// What the hostchain's scout found: the destination, the block (slot) every answer is
    /// from, its code hash and the findings.
    pub inspection: Inspection,
    /// What the configured lists added.
    pub policy: Vec<Finding>,
    /// The verdict.
    pub verdict: Verdict,
    /// The withdrawal order inspected for, if any.
    pub order: Option<Nonce>,
    /// The scout's key.
    pub scout: PublicKey,
}

impl ReportBody {
    /// The inspected destination.
    pub fn address(&self) -> &HostAddress {
        &self.inspection.address
    }

    /// The block (slot) every answer is from.
    pub fn block(&self) -> u64 {
        self.inspection.block
    }
    /// The report hash: what the signature signs and what holds and approvals name.
    pub fn hash(&self) -> Result<Hash, ReportError> {
        let bytes = serde_json::to_vec(self).map_err(|e| ReportError::Encode(e.to_string()))?;
        Ok(hash(Domain::ScoutReport, &[&bytes]))
    }

    /// Every finding: the hostchain's and the policy's.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.inspection.findings.iter().chain(self.policy.iter())
    }
}

/// A signed scout report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoutReport {
    /// What is stated.
    pub body: ReportBody,
    /// The report hash, for reference (checked against the body).
    pub hash: Hash,
    /// The scout's signature over the hash.
    pub signature: Signature,
}

/// Why a report is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the report cannot be encoded: {0}")]
    Encode(String),
    #[error("the report is not valid JSON of a version-{REPORT_VERSION} report: {0}")]
    Decode(String),
    #[error("the report is version {0}; this relayer reads version {REPORT_VERSION}")]
    Version(u8),
    #[error("the report's bytes are not its canonical encoding (it was edited)")]
    NotCanonical,
    #[error("the report's hash field {stated} is not the hash of its body {computed}")]
    HashMismatch { stated: Hash, computed: Hash },
    #[error("the scout's signature does not verify")]
    BadSignature,
    #[error("the verdict {stated} does not follow from the findings (they give {computed})")]
    WrongVerdict { stated: Verdict, computed: Verdict },
}

impl ScoutReport {
    /// Signs `body` with `key` (whose public key must be `body.scout`).
    pub fn sign(body: ReportBody, key: &Keypair) -> Result<Self, ReportError> {
        let hash = body.hash()?;
        Ok(ScoutReport {
            signature: key.sign_digest(&hash),
            hash,
            body,
        })
    }

    /// Builds and signs the report of `inspection` under `policy`.
    pub fn build(
        symbiote: SymbioteId,
        hostchain: &HostchainId,
        inspection: Inspection,
        policy: &ScoutPolicy,
        order: Option<Nonce>,
        key: &Keypair,
    ) -> Result<Self, ReportError> {
        let policy_findings = policy.findings(hostchain, &inspection);
        let verdict = verdict(&inspection, &policy_findings);
        let body = ReportBody {
            version: REPORT_VERSION,
            symbiote,
            hostchain: hostchain.clone(),
            inspection,
            policy: policy_findings,
            verdict,
            order,
            scout: key.public(),
        };
        Self::sign(body, key)
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ReportError> {
        serde_json::to_vec(self).map_err(|e| ReportError::Encode(e.to_string()))
    }

    /// The canonical bytes as text (they are JSON).
    pub fn to_text(&self) -> Result<String, ReportError> {
        serde_json::to_string(self).map_err(|e| ReportError::Encode(e.to_string()))
    }

    /// Decodes report bytes and checks everything that needs no hostchain: canonical bytes,
    /// version, hash, signature, and that the verdict follows from the findings.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReportError> {
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let report: ScoutReport =
            serde_json::from_slice(trimmed).map_err(|e| ReportError::Decode(e.to_string()))?;
        if report.body.version != REPORT_VERSION {
            return Err(ReportError::Version(report.body.version));
        }
        if report.to_bytes()? != trimmed {
            return Err(ReportError::NotCanonical);
        }
        let computed = report.body.hash()?;
        if computed != report.hash {
            return Err(ReportError::HashMismatch {
                stated: report.hash,
                computed,
            });
        }
        crypto::verify_digest(&report.body.scout, &computed, &report.signature)
            .map_err(|_| ReportError::BadSignature)?;
        let expected = verdict(&report.body.inspection, &report.body.policy);
        if expected != report.body.verdict {
            return Err(ReportError::WrongVerdict {
                stated: report.body.verdict,
                computed: expected,
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn inspection(findings: Vec<Finding>) -> Inspection {
        Inspection {
            address: HostAddress::new("0x00000000000000000000000000000000000000aa").unwrap(),
            block: 7,
            code_hash: Some("0xc0de".into()),
            findings,
            followed: vec![],
        }
    }

    fn finding(code: &str, severity: Severity) -> Finding {
        Finding {
            code: code.into(),
            severity,
            detail: String::new(),
        }
    }

    fn evm() -> HostchainId {
        HostchainId::new("evm").unwrap()
    }

    fn destination(address: &str) -> Destination {
        (evm(), HostAddress::new(address).unwrap())
    }

    #[test]
    fn verdicts_follow_the_worst_finding_and_the_lists() {
        let evm = &evm();
        let none = ScoutPolicy::new([], [], &[], true);
        let plain = inspection(vec![finding("no-code", Severity::Info)]);
        assert_eq!(verdict(&plain, &none.findings(evm, &plain)), Verdict::Clean);
        let odd = inspection(vec![
            finding("token-contract", Severity::Suspicious),
            finding("no-code", Severity::Info),
        ]);
        assert_eq!(
            verdict(&odd, &none.findings(evm, &odd)),
            Verdict::Suspicious
        );
        let bad = inspection(vec![finding("selfdestruct", Severity::Malicious)]);
        assert_eq!(verdict(&bad, &none.findings(evm, &bad)), Verdict::Malicious);

        let allow = ScoutPolicy::new(
            [destination("0x00000000000000000000000000000000000000aa")],
            [],
            &[],
            true,
        );
        assert_eq!(verdict(&bad, &allow.findings(evm, &bad)), Verdict::Clean);
        let deny_code = ScoutPolicy::new(
            [destination("0x00000000000000000000000000000000000000aa")],
            [],
            &["0xC0DE".into()],
            true,
        );
        assert_eq!(
            verdict(&plain, &deny_code.findings(evm, &plain)),
            Verdict::Malicious,
            "a denied code hash beats the allow list"
        );
        assert!(none.holds(Verdict::Suspicious));
        assert!(!ScoutPolicy::new([], [], &[], false).holds(Verdict::Suspicious));
        assert!(ScoutPolicy::new([], [], &[], false).holds(Verdict::Malicious));
    }

    #[test]
    fn a_report_round_trips_and_any_changed_byte_is_refused() {
        let key = Keypair::generate();
        let report = ScoutReport::build(
            SymbioteId::from_name("test"),
            &HostchainId::new("evm-1").unwrap(),
            inspection(vec![finding("selfdestruct", Severity::Malicious)]),
            &ScoutPolicy::default(),
            Some(Nonce::new(3)),
            &key,
        )
        .unwrap();
        let bytes = report.to_bytes().unwrap();
        assert_eq!(ScoutReport::from_bytes(&bytes).unwrap(), report);
        let mut with_newline = bytes.clone();
        with_newline.push(b'\n');
        assert!(ScoutReport::from_bytes(&with_newline).is_ok());
        for position in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[position] ^= 0x01;
            assert!(
                ScoutReport::from_bytes(&changed).is_err(),
                "byte {position} changed and the report was still accepted"
            );
        }
    }
}

/// The result of re-running a report's inspection at its block.
#[derive(Clone, Debug, Serialize)]
pub struct Reverification {
    /// Whether the hostchain gives the same inspection and the same verdict.
    pub confirmed: bool,
    /// What differs, if anything.
    pub differences: Vec<String>,
    /// The verdict the re-run gives (with the report's policy findings).
    pub verdict: Verdict,
}

/// Re-runs `report`'s inspection at its block with `scout` and compares.
pub async fn reverify(
    report: &ScoutReport,
    scout: &dyn chain_adapters::Scout,
) -> Result<Reverification, chain_adapters::AdapterError> {
    let body = &report.body;
    let again = scout.inspect(body.address(), Some(body.block())).await?;
    let mut differences = Vec::new();
    if again.block != body.block() {
        differences.push(format!(
            "inspected at block {} instead of {}",
            again.block,
            body.block()
        ));
    }
    if again.code_hash != body.inspection.code_hash {
        differences.push(format!(
            "code hash {:?}, the report says {:?}",
            again.code_hash, body.inspection.code_hash
        ));
    }
    if again.followed != body.inspection.followed {
        differences.push("the followed code differs".into());
    }
    for f in &again.findings {
        if !body.inspection.findings.contains(f) {
            differences.push(format!(
                "found {} ({:?}), not in the report",
                f.code, f.severity
            ));
        }
    }
    for f in &body.inspection.findings {
        if !again.findings.contains(f) {
            differences.push(format!(
                "the report's finding {} is not found again",
                f.code
            ));
        }
    }
    if again.findings != body.inspection.findings && differences.is_empty() {
        differences.push("the findings are in another order".into());
    }
    let verdict = verdict(&again, &body.policy);
    if verdict != body.verdict {
        differences.push(format!(
            "the verdict is {verdict}, the report says {}",
            body.verdict
        ));
    }
    Ok(Reverification {
        confirmed: differences.is_empty(),
        differences,
        verdict,
    })
}
