//! `docs/configuration.md` lists every configuration key, with the code's type, default and
//! meaning for the relayer's own sections.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::read;

/// The name that stands for a key chosen by the operator (a map's key), in dotted keys.
const ENTRY: &str = "<id>";

/// The only open table of the configuration: a hostchain's section, whose keys are its kind's.
const HOSTCHAIN_SECTION: &str = "hostchains.<id>";

/// One key as the code declares it.
#[derive(Debug)]
struct CodeKey {
    /// JSON schema type: `string`, `integer`, `number`, `boolean`, `array`, `object`.
    ty: String,
    /// The default, rendered as in TOML; `None` when the key has none.
    default: Option<String>,
    /// Whether the key must be given (in a present section).
    required: bool,
    /// The field's doc comment.
    description: String,
}

impl CodeKey {
    /// The default column that documents this key.
    fn default_cell(&self) -> String {
        match (&self.default, self.required) {
            (Some(value), _) => format!("`{value}`"),
            (None, true) => "required".into(),
            (None, false) => "unset".into(),
        }
    }

    /// A table row to paste into the document.
    fn row(&self, key: &str) -> String {
        let meaning = self.description.split_whitespace().collect::<Vec<_>>();
        format!(
            "| `{key}` | {} | {} | {} |",
            self.ty,
            self.default_cell(),
            meaning.join(" ")
        )
    }
}

/// The keys of the relayer's own sections, walked out of `Config`'s JSON schema, and the open
/// tables (sections whose keys the schema does not list).
#[derive(Default)]
struct CodeKeys {
    keys: BTreeMap<String, CodeKey>,
    open_tables: Vec<String>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `schema` with a `$ref` followed to its definition.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/$defs/")
                .unwrap_or_else(|| panic!("unexpected schema reference {reference}"));
            resolve(root, &root["$defs"][name])
        }
        None => schema,
    }
}

/// The schemas a value may match: `schema` itself and, recursively, its `anyOf`, `oneOf` and
/// `allOf` members (an `Option`, an enum, a flattened struct), references followed.
fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = resolve(root, schema);
    let mut out = vec![schema];
    for combinator in ["anyOf", "oneOf", "allOf"] {
        for member in schema
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(alternatives(root, member));
        }
    }
    out
}

/// A table whose keys the schema leaves open (`toml::Table`, `serde_json::Map`).
fn is_open_table(root: &Value, schema: &Value) -> bool {
    let schema = resolve(root, schema);
    schema.get("type").and_then(Value::as_str) == Some("object")
        && schema.get("properties").is_none()
        && schema
            .get("additionalProperties")
            .is_none_or(|extra| extra == &Value::Bool(true))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The (non-null) type of a leaf.
fn type_name(root: &Value, schema: &Value) -> String {
    for alternative in alternatives(root, schema) {
        match alternative.get("type") {
            Some(Value::String(ty)) if ty != "null" => return ty.clone(),
            Some(Value::Array(types)) => {
                if let Some(ty) = types
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|t| *t != "null")
                {
                    return ty.to_string();
                }
            }
            _ => {}
        }
        if let Some(value) = alternative.get("const") {
            return json_type(value).to_string();
        }
        if let Some(value) = alternative
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|values| values.iter().find(|v| !v.is_null()))
        {
            return json_type(value).to_string();
        }
    }
    "any".into()
}

/// A default as it is written in TOML (for the values configuration keys have, JSON's
/// notation is TOML's).
fn toml_literal(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

fn walk(root: &Value, schema: &Value, key: &str, required: bool, out: &mut CodeKeys) {
    let alternatives = alternatives(root, schema);
    // A table with declared keys: one key per property.
    let mut properties: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut required_names: BTreeSet<&str> = BTreeSet::new();
    for alternative in &alternatives {
        if let Some(props) = alternative.get("properties").and_then(Value::as_object) {
            properties.extend(props.iter().map(|(name, schema)| (name.as_str(), schema)));
        }
        required_names.extend(
            alternative
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    if !properties.is_empty() {
        for (name, property) in properties {
            walk(
                root,
                property,
                &join(key, name),
                required_names.contains(name),
                out,
            );
        }
        return;
    }
    for alternative in &alternatives {
        // A map: entries named by the operator.
        if let Some(entry) = alternative
            .get("additionalProperties")
            .filter(|entry| entry.is_object())
        {
            let entry_key = join(key, ENTRY);
            if is_open_table(root, entry) {
                out.open_tables.push(entry_key);
            } else {
                walk(root, entry, &entry_key, false, out);
            }
            return;
        }
        // An array of tables (`[[section.list]]`).
        if let Some(items) = alternative.get("items")
            && resolve(root, items).get("properties").is_some()
        {
            walk(root, items, &format!("{key}[]"), false, out);
            return;
        }
    }
    let description = schema
        .get("description")
        .or_else(|| resolve(root, schema).get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let default = schema
        .get("default")
        .filter(|value| !value.is_null())
        .map(toml_literal);
    out.keys.insert(
        key.to_string(),
        CodeKey {
            ty: type_name(root, schema),
            default,
            required,
            description,
        },
    );
}

fn config_keys() -> CodeKeys {
    let schema = serde_json::to_value(schemars::schema_for!(relayer::config::Config)).unwrap();
    let mut out = CodeKeys::default();
    walk(&schema, &schema, "", false, &mut out);
    out
}

/// The keys that each hostchain kind's configuration accepts, from the error its adapter gives
/// for an unknown key (`unknown field `x`, expected one of `a`, `b``): every kind refuses
/// unknown keys, and the registry lists every kind, so a new kind is covered here too.
async fn kind_keys() -> BTreeMap<String, BTreeSet<String>> {
    const PROBE: &str = "docs_probe_unknown_key";
    let hostchain = symbiote::types::HostchainId::new("docs-probe").unwrap();
    let mut kinds = BTreeMap::new();
    for (kind, factory, _) in chain_adapters::registry::KINDS {
        let error = match factory(hostchain.clone(), json!({ PROBE: true })).await {
            Ok(_) => panic!("kind {kind} accepted a section with only an unknown key"),
            Err(error) => error,
        };
        assert_eq!(
            error.kind,
            chain_adapters::ErrorKind::Config,
            "kind {kind}: {error}"
        );
        let keys = expected_fields(&error.message, PROBE).unwrap_or_else(|| {
            panic!(
                "kind {kind}: its configuration must refuse unknown keys by listing the keys it \
                 knows (serde's deny_unknown_fields), but said: {error}"
            )
        });
        kinds.insert(kind.to_string(), keys);
    }
    kinds
}

/// The field names in serde's "unknown field `probe`, expected one of `a`, `b`" (or "expected
/// `a`" for a single field).
fn expected_fields(message: &str, probe: &str) -> Option<BTreeSet<String>> {
    let (_, rest) = message.split_once(&format!("unknown field `{probe}`, expected "))?;
    let rest = rest.strip_prefix("one of ").unwrap_or(rest);
    let mut fields = BTreeSet::new();
    // `a`, `b`, `c`: names at odd positions between backticks, separated by ", ".
    for (i, part) in rest.split('`').enumerate() {
        if i % 2 == 1 {
            fields.insert(part.to_string());
        } else if i > 0 && part != ", " {
            break;
        }
    }
    (!fields.is_empty()).then_some(fields)
}

/// One row of a key table in the document.
#[derive(Debug)]
struct DocRow {
    line: usize,
    key: String,
    ty: String,
    default: String,
    meaning: String,
}

/// The document's key tables: rows of tables whose header starts with `key`, grouped by the
/// hostchain kind of the heading above them (`None` outside a `kind = "..."` heading).
fn documented_keys(text: &str) -> BTreeMap<Option<String>, Vec<DocRow>> {
    let mut groups: BTreeMap<Option<String>, Vec<DocRow>> = BTreeMap::new();
    let mut kind: Option<String> = None;
    let mut in_key_table = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            kind = line
                .split_once("kind = \"")
                .and_then(|(_, rest)| rest.split_once('"').map(|(name, _)| name.to_string()));
            continue;
        }
        if !line.starts_with('|') {
            in_key_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let first = cells.first().copied().unwrap_or_default();
        if first == "key" {
            in_key_table = true;
            continue;
        }
        if !in_key_table || first.starts_with("---") {
            continue;
        }
        assert!(
            cells.len() == 4 && first.len() > 2 && first.starts_with('`') && first.ends_with('`'),
            "docs/configuration.md line {}: a key row is | `key` | type | default | meaning |",
            index + 1
        );
        groups.entry(kind.clone()).or_default().push(DocRow {
            line: index + 1,
            key: first.trim_matches('`').to_string(),
            ty: cells[1].to_string(),
            default: cells[2].to_string(),
            meaning: cells[3].to_string(),
        });
    }
    groups
}

/// Differences between the keys the code has and the keys a table documents.
fn compare(
    what: &str,
    code: &BTreeSet<String>,
    rows: &[DocRow],
    row_for: impl Fn(&str) -> String,
    problems: &mut Vec<String>,
) {
    let mut documented = BTreeSet::new();
    for row in rows {
        if !documented.insert(row.key.clone()) {
            problems.push(format!(
                "{what}: `{}` is documented twice (line {})",
                row.key, row.line
            ));
        }
        if row.meaning.is_empty() {
            problems.push(format!(
                "{what}: `{}` has no meaning (line {})",
                row.key, row.line
            ));
        }
    }
    let missing: Vec<String> = code.difference(&documented).map(|k| row_for(k)).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{what}: keys missing from docs/configuration.md; add these rows:\n{}",
            missing.join("\n")
        ));
    }
    for key in documented.difference(code) {
        let line = rows.iter().find(|r| &r.key == key).map_or(0, |r| r.line);
        problems.push(format!(
            "{what}: `{key}` (line {line}) is documented but is no configuration key"
        ));
    }
}

#[tokio::test]
async fn configuration_reference_lists_every_key() {
    let text = read("docs/configuration.md");
    let mut documented = documented_keys(&text);
    let code = config_keys();
    let kinds = kind_keys().await;
    let mut problems = Vec::new();

    // The relayer's own sections, with types, defaults and meanings.
    assert_eq!(
        code.open_tables,
        vec![HOSTCHAIN_SECTION.to_string()],
        "the only configuration table without declared keys should be the hostchain section; \
         a new one needs its keys documented per variant here, as hostchain kinds are"
    );
    let kind_key = format!("{HOSTCHAIN_SECTION}.kind");
    let mut own: BTreeSet<String> = code.keys.keys().cloned().collect();
    own.insert(kind_key.clone());
    let rows = documented.remove(&None).unwrap_or_default();
    compare(
        "relayer configuration",
        &own,
        &rows,
        |key| match code.keys.get(key) {
            Some(key_info) => key_info.row(key),
            None => format!("| `{key}` | string | required | <meaning> |"),
        },
        &mut problems,
    );
    for row in &rows {
        let Some(key) = code.keys.get(&row.key) else {
            continue;
        };
        if key.description.trim().is_empty() {
            problems.push(format!(
                "`{}` has no doc comment in the code: document the field",
                row.key
            ));
        }
        let documented_type = row.ty.split_whitespace().next().unwrap_or_default();
        if documented_type != key.ty {
            problems.push(format!(
                "`{}` (line {}): the type column says {}, the code's type is {}",
                row.key, row.line, row.ty, key.ty
            ));
        }
        if row.default != key.default_cell() {
            problems.push(format!(
                "`{}` (line {}): the default column says {}, the code says {}",
                row.key,
                row.line,
                row.default,
                key.default_cell()
            ));
        }
    }

    // Each hostchain kind's keys, by name.
    for (kind, keys) in &kinds {
        let code: BTreeSet<String> = keys
            .iter()
            .map(|k| format!("{HOSTCHAIN_SECTION}.{k}"))
            .collect();
        let rows = documented.remove(&Some(kind.clone())).unwrap_or_default();
        if rows.is_empty() {
            problems.push(format!(
                "hostchain kind `{kind}` has no section: add a heading with `kind = \"{kind}\"` \
                 and a key table"
            ));
        }
        compare(
            &format!("kind = \"{kind}\""),
            &code,
            &rows,
            |key| format!("| `{key}` | <type> | <default> | <meaning> |"),
            &mut problems,
        );
    }
    for (kind, rows) in documented {
        problems.push(format!(
            "{} rows are documented under unknown hostchain kind {kind:?}",
            rows.len()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn key_tables_parse_as_expected() {
    let text = "\
# Title
| key | type | default | meaning |
|---|---|---|---|
| `a.b` | integer | `1` | One. |

| variable | value |
|---|---|
| `NOT_A_KEY` | x |

### Thing: `kind = \"thing\"`

| key | type | default | meaning |
|---|---|---|---|
| `hostchains.<id>.x` | string | required | X. |
";
    let groups = documented_keys(text);
    let keys = |kind: Option<&str>| -> Vec<String> {
        groups[&kind.map(str::to_string)]
            .iter()
            .map(|r| r.key.clone())
            .collect()
    };
    assert_eq!(keys(None), vec!["a.b"]);
    assert_eq!(keys(Some("thing")), vec!["hostchains.<id>.x"]);
    assert_eq!(
        expected_fields(
            "invalid: unknown field `p`, expected one of `a`, `b_c`",
            "p"
        ),
        Some(["a".to_string(), "b_c".to_string()].into())
    );
    assert_eq!(
        expected_fields("unknown field `p`, expected `a`", "p"),
        Some(["a".to_string()].into())
    );
    assert_eq!(expected_fields("missing field `a`", "p"), None);
}

#[test]
fn schema_walk_reaches_nested_optional_and_listed_tables() {
    // The shapes that new sections may take: an optional section, a map of tables, an array
    // of tables, an enum.
    #[derive(schemars::JsonSchema, serde::Deserialize)]
    #[allow(dead_code)]
    struct Root {
        /// Optional section.
        ha: Option<Inner>,
        /// Map of tables.
        #[serde(default)]
        tokens: BTreeMap<String, Inner>,
        /// Array of tables.
        #[serde(default)]
        rules: Vec<Inner>,
        /// An enum.
        #[serde(default)]
        mode: Mode,
    }
    #[derive(schemars::JsonSchema, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        /// Required.
        id: String,
        /// Optional.
        #[serde(default)]
        limit: Option<u64>,
    }
    #[derive(schemars::JsonSchema, serde::Deserialize, serde::Serialize, Default)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        #[default]
        Active,
        Passive,
    }
    let schema = serde_json::to_value(schemars::schema_for!(Root)).unwrap();
    let mut out = CodeKeys::default();
    walk(&schema, &schema, "", false, &mut out);
    let keys: Vec<&str> = out.keys.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "ha.id",
            "ha.limit",
            "mode",
            "rules[].id",
            "rules[].limit",
            "tokens.<id>.id",
            "tokens.<id>.limit"
        ]
    );
    assert!(out.keys["ha.id"].required);
    assert_eq!(out.keys["ha.limit"].default_cell(), "unset");
    assert_eq!(out.keys["mode"].ty, "string");
    assert_eq!(out.keys["mode"].default_cell(), "`\"active\"`");
}
