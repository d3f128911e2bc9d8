//! `docs/grafana/relayer.json` queries only metrics that the relayer exports.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use super::{read, repo_file};

/// A metrics registry with one sample in every label family: the text format shows a family
/// only once it has a child.
fn populated_metrics() -> relayer::metrics::Metrics {
    use relayer::metrics::{AnchorLabels, ChainLabels};
    let metrics = relayer::metrics::Metrics::new();
    let chain = ChainLabels {
        hostchain: "docs".into(),
    };
    metrics
        .anchors
        .get_or_create(&AnchorLabels {
            hostchain: "docs".into(),
            state: "final".into(),
        })
        .set(1);
    for family in [&metrics.deposits, &metrics.releases] {
        family
            .get_or_create(&AnchorLabels {
                hostchain: "docs".into(),
                state: "docs".into(),
            })
            .set(1);
    }
    metrics.confirmation_lag_blocks.get_or_create(&chain).set(1);
    metrics
        .wallet_balance
        .get_or_create(&relayer::metrics::WalletLabels {
            hostchain: "docs".into(),
            key: "relayer".into(),
        })
        .set(1.0);
    metrics.store_errors.inc();
    metrics
        .tx_broadcasts
        .get_or_create(&relayer::metrics::TxLabels {
            hostchain: "docs".into(),
            purpose: "anchor".into(),
        })
        .inc();
    metrics.rpc_error("docs", "unavailable");
    metrics
}

/// The names given to `register(...)` in the relayer's sources, with the registry's prefix.
fn registered_names() -> BTreeSet<String> {
    fn sources(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&repo_file("relayer/src"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (_, rest) in text
            .match_indices(".register(")
            .map(|(i, _)| text.split_at(i))
        {
            let args = rest[".register(".len()..].trim_start();
            if let Some(name) = args
                .strip_prefix('"')
                .and_then(|a| a.split_once('"'))
                .map(|(name, _)| name)
            {
                names.insert(format!("relayer_{name}"));
            }
        }
    }
    names
}

/// Every series name the relayer exports, from the `# TYPE` lines of its exposition, with the
/// suffixes that the OpenMetrics text format gives each type's samples.
fn exported_series() -> BTreeSet<String> {
    let text = populated_metrics().render();
    let mut families = BTreeSet::new();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        // A counter's family is named by its `_total` series (Prometheus text format 0.0.4).
        families.insert(name.strip_suffix("_total").unwrap_or(name).to_string());
        let suffixes: &[&str] = match kind.trim() {
            "counter" => &[""],
            "histogram" | "gaugehistogram" => &["_bucket", "_count", "_sum", "_created"],
            "summary" => &["", "_count", "_sum", "_created"],
            "info" => &["_info"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
    }
    let hidden: Vec<_> = registered_names().difference(&families).cloned().collect();
    assert!(
        hidden.is_empty(),
        "metrics registered in relayer/src but absent from the exposition (a label family \
         without a child): give them a sample in populated_metrics(): {hidden:?}\n{text}"
    );
    names
}

/// PromQL words that are not metric names when not followed by `(`.
const PROMQL_KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "inf",
    "nan",
];

/// Keywords followed by a list of label names in parentheses.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names an expression selects. Label matchers (`{...}`), ranges (`[...]`),
/// strings, label lists (`by (...)`), numbers and durations, Grafana variables (`$x`),
/// function and aggregation names are not metric names.
fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    // Drop strings, label matchers and ranges.
    let mut plain = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
                plain.push(' ');
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while let Some(d) = chars.next() {
                    if d == '"' || d == '\'' {
                        while let Some(e) = chars.next() {
                            if e == '\\' {
                                chars.next();
                            } else if e == d {
                                break;
                            }
                        }
                    } else if d == close {
                        break;
                    }
                }
                plain.push(' ');
            }
            _ => plain.push(c),
        }
    }
    let mut names = BTreeSet::new();
    let bytes = plain.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let word_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':' || b == b'.';
        if c.is_ascii_digit() || c == b'$' {
            // A number, a duration or a variable.
            i += 1;
            while i < bytes.len() && word_char(bytes[i]) {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_' || c == b':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (word_char(bytes[i]) && bytes[i] != b'.') {
            i += 1;
        }
        let word = &plain[start..i];
        let mut next = i;
        while next < bytes.len() && bytes[next].is_ascii_whitespace() {
            next += 1;
        }
        let followed_by_paren = bytes.get(next) == Some(&b'(');
        if LABEL_LIST_KEYWORDS.contains(&word) && followed_by_paren {
            // Skip the label names.
            i = plain[next..]
                .find(')')
                .map_or(bytes.len(), |end| next + end + 1);
            continue;
        }
        if followed_by_paren || PROMQL_KEYWORDS.contains(&word) {
            continue;
        }
        names.insert(word.to_string());
    }
    names
}

/// Every string under the key `key` in `value`, recursively.
fn strings_under<'a>(value: &'a Value, key: &str, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key
                    && let Some(text) = v.as_str()
                {
                    out.push(text);
                }
                strings_under(v, key, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

#[test]
fn promql_metric_names_are_found() {
    let names = |expr: &str| -> Vec<String> { promql_metric_names(expr).into_iter().collect() };
    assert_eq!(
        names(
            r#"sum by (hostchain, kind) (rate(relayer_rpc_errors_total{hostchain=~"$hostchain", x="}"}[$__rate_interval]))"#
        ),
        vec!["relayer_rpc_errors_total"]
    );
    assert_eq!(
        names("max(deriv(a_b[5m] offset 1h)) * 60 / on (instance) group_left c:d"),
        vec!["a_b", "c:d"]
    );
    assert_eq!(names("sum(x) without (state) > bool 1e3"), vec!["x"]);
}

#[test]
fn grafana_dashboard_uses_only_exported_metrics() {
    let dashboard: Value = serde_json::from_str(&read("docs/grafana/relayer.json"))
        .expect("docs/grafana/relayer.json is not JSON");
    let exported = exported_series();

    let mut queries = Vec::new();
    strings_under(&dashboard["panels"], "expr", &mut queries);
    assert!(queries.len() >= 10, "only {} queries", queries.len());
    let mut variables = Vec::new();
    strings_under(&dashboard["templating"], "definition", &mut variables);
    for variable in variables {
        // label_values(metric, label) or label_values(label).
        if let Some(args) = variable
            .strip_prefix("label_values(")
            .and_then(|rest| rest.strip_suffix(')'))
            && let Some((selector, _label)) = args.rsplit_once(',')
        {
            queries.push(selector);
        }
    }
    let mut unknown = BTreeSet::new();
    for query in &queries {
        let names = promql_metric_names(query);
        assert!(!names.is_empty(), "no metric in `{query}`");
        for name in names {
            if !exported.contains(&name) {
                unknown.insert(format!("{name} (in `{query}`)"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics the relayer does not export:\n{}\nexported: {exported:?}",
        unknown.into_iter().collect::<Vec<_>>().join("\n")
    );

    // Every query goes to the data source chosen in the dashboard's `datasource` variable.
    let datasource = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a data source variable");
    assert_eq!(datasource["query"], "prometheus");
    let name = datasource["name"].as_str().unwrap();
    let mut uids = Vec::new();
    strings_under(&dashboard["panels"], "uid", &mut uids);
    for uid in uids {
        assert_eq!(uid, format!("${{{name}}}"), "a panel's data source");
    }
}

/// `promtool check metrics` (Debian's prometheus package, installed by `tools/install.sh`)
/// accepts the exposition: every family has help text, names follow the conventions.
#[test]
fn promtool_accepts_the_exposition() {
    use std::io::Write;
    let promtool = devnet::tools::find("promtool").unwrap_or_else(|e| {
        panic!("promtool is needed to check /metrics (tools/install.sh promtool): {e}")
    });
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = populated_metrics().render();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

/// Every `relayer_*` series the runbook tells operators to watch is exported.
#[test]
fn runbook_names_only_exported_metrics() {
    let exported = exported_series();
    let text = read("docs/runbook.md");
    let mut unknown = BTreeSet::new();
    for (i, _) in text.match_indices("relayer_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !exported.contains(&name) {
            unknown.insert(name);
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/runbook.md names metrics the relayer does not export: {unknown:?}"
    );
}
