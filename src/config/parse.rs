//! From TOML text to a validated [`Config`], reporting every error at once with its position.
//!
//! The text is parsed with `toml_edit`, which keeps the byte span of every key and value. Each
//! top-level section and each `[[instance]]`, `[[check]]`, `[[attestation]]` and `[[inherited]]`
//! entry is deserialized on its own into a raw serde type, so one broken entry does not hide the
//! mistakes in the others; unknown keys are reported one by one at their own position. Semantic
//! validation follows on whatever deserialized: collector parameters (through each collector's
//! `validate`), schedules and time zones, names, references between checks and instances,
//! control ids against the profile's catalog (naming the other CSF version when an id belongs
//! to it), scope, dates and digests. Errors come back sorted by position as [`ConfigErrors`].
//!
//! This module reads at most one file and never runs a collector; the types it produces are
//! defined in `config/mod.rs`, catalogs come from `catalog`, schedules from `crate::schedule`,
//! judgements from `crate::controls`.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use collectors::{CollectorKind, ParamError, Settings};
use serde::de::{DeserializeOwned, IgnoredAny, IntoDeserializer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;
use toml_edit::{Array, ImDocument, InlineTable, Item, Table, TableLike, Value};

use super::catalog::{counterparts, Catalog, CatalogId, ControlId};
use super::{
    Agent, Attestation, Check, Config, Inherited, Instance, NotApplicable, PinnedDocument, Profile,
    DEFAULT_PATH, EMBEDDED_DEFAULT,
};
use crate::controls::Judgement;
use crate::schedule::{Schedule, ScheduleError};

/// How the embedded default names itself in errors and in [`Config::source`].
pub(crate) const EMBEDDED_SOURCE: &str = "<embedded default>";

/// Loads the configuration: `path` if given (it must exist), else [`DEFAULT_PATH`] if it
/// exists, else the embedded default profile.
pub(crate) fn load(path: Option<&Path>) -> Result<Config, ConfigErrors> {
    match path {
        Some(path) => load_file(path),
        None if Path::new(DEFAULT_PATH).exists() => load_file(Path::new(DEFAULT_PATH)),
        None => parse_str(EMBEDDED_DEFAULT, EMBEDDED_SOURCE),
    }
}

/// Parses and validates configuration text; `source` names it in errors.
pub(crate) fn parse_str(text: &str, source: &str) -> Result<Config, ConfigErrors> {
    let mut parser = Parser { text, source, errors: Vec::new() };
    let document = match ImDocument::parse(text) {
        Ok(document) => document,
        Err(err) => {
            parser.error(err.span(), one_line(err.message()));
            return Err(parser.into_errors());
        }
    };
    let parts = parser.document(document.as_table());
    parser.finish(parts)
}

/// One configuration error with its position (1-based; 0 when it concerns the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The file path, or `<embedded default>`.
    pub(crate) source: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// Lowercase, naming the key or value at fault.
    pub(crate) message: String,
}

/// All errors of one configuration, sorted by position; displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub(crate) struct ConfigErrors(pub(crate) Vec<ConfigError>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.source, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn render(errors: &[ConfigError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// The largest configuration file read; anything longer is refused, not truncated.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

const DEFAULT_MAX_CONCURRENT_RUNS: u64 = 4;
const DEFAULT_MAX_READ_BYTES: u64 = 16 * 1024 * 1024;
/// Hours before evidence expires that a webhook event announces it.
const DEFAULT_EXPIRY_LEAD_HOURS: u64 = 24;
const DEFAULT_TIMEOUT_SECS: u64 = 60;
const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;
const MAX_SPLAY_SECS: u64 = 24 * 60 * 60;
const MAX_AGE_HOURS_LIMIT: u64 = 10 * 366 * 24;

const TOP_LEVEL_KEYS: [&str; 6] =
    ["agent", "profile", "instance", "check", "attestation", "inherited"];

fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let source = path.display().to_string();
    match read_text(path) {
        Ok(text) => parse_str(&text, &source),
        Err(message) => {
            Err(ConfigErrors(vec![ConfigError { source, line: 0, column: 0, message }]))
        }
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => format!("cannot open: {err}"),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("cannot read: {err}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "not valid utf-8".to_owned())
}

// Raw serde types: what the TOML says, before validation.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentConfig {
    state_dir: Option<Spanned<PathBuf>>,
    publish_dir: Option<Spanned<PathBuf>>,
    #[serde(default)]
    webhooks: Vec<Spanned<String>>,
    webhook_expiry_lead_hours: Option<Spanned<u64>>,
    max_concurrent_runs: Option<Spanned<u64>>,
    max_read_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileConfig {
    catalog: Spanned<String>,
    scope: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    not_applicable: Vec<NotApplicableConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotApplicableConfig {
    control: Spanned<String>,
    justification: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceConfig {
    name: Spanned<String>,
    collector: Spanned<String>,
    schedule: Spanned<String>,
    timezone: Option<Spanned<String>>,
    splay_secs: Option<Spanned<u64>>,
    timeout_secs: Option<Spanned<u64>>,
    /// Deserialized separately into the collector's own config type.
    #[allow(dead_code)]
    params: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckConfig {
    name: Spanned<String>,
    instance: Spanned<String>,
    /// Deserialized separately, with `params`, into a [`Judgement`].
    judgement: Spanned<String>,
    #[allow(dead_code)]
    params: Option<IgnoredAny>,
    max_age_hours: Spanned<u64>,
    controls: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    public_facts: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestationConfig {
    controls: Spanned<Vec<Spanned<String>>>,
    signer: Spanned<String>,
    statement: Spanned<String>,
    date: Spanned<DateText>,
    expires: Spanned<DateText>,
    document: Option<DocumentConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentConfig {
    path: Spanned<PathBuf>,
    sha256: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InheritedConfig {
    controls: Spanned<Vec<Spanned<String>>>,
    provider: Spanned<String>,
    certification: Spanned<String>,
    reference: Spanned<String>,
    expires: Spanned<DateText>,
}

/// A date written either as a TOML local date (`2026-01-31`) or as a string; checked later.
#[derive(Debug)]
struct DateText(String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DateTextVisitor)
    }
}

struct DateTextVisitor;

impl<'de> serde::de::Visitor<'de> for DateTextVisitor {
    type Value = DateText;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a date as YYYY-MM-DD")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DateText, E> {
        Ok(DateText(text.to_owned()))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DateText, A::Error> {
        let access = serde::de::value::MapAccessDeserializer::new(map);
        toml_edit::Datetime::deserialize(access).map(|datetime| DateText(datetime.to_string()))
    }
}

/// One `[[section]]` entry: the TOML as written (spans intact) and, if it deserialized, the raw
/// type.
struct Entry<T> {
    item: Item,
    raw: Option<T>,
}

/// The raw sections, deserialized entry by entry.
struct Sections {
    agent: Option<AgentConfig>,
    profile: Option<ProfileConfig>,
    instances: Vec<Entry<InstanceConfig>>,
    checks: Vec<Entry<CheckConfig>>,
    attestations: Vec<Entry<AttestationConfig>>,
    inherited: Vec<Entry<InheritedConfig>>,
}

/// What checks need to know about each configured instance, even one with errors.
struct InstanceInfo {
    kind: Option<CollectorKind>,
    params: Option<Item>,
}

/// The validated profile and the sets control references are checked against.
struct ScopeRules {
    catalog: CatalogId,
    in_scope: HashSet<String>,
    not_applicable: HashSet<String>,
}

/// Everything validated, before the errors decide whether it becomes a [`Config`].
struct Parts {
    agent: Agent,
    profile: Option<Profile>,
    instances: Vec<Instance>,
    checks: Vec<Check>,
    attestations: Vec<Attestation>,
    inherited: Vec<Inherited>,
}

/// Collects errors while walking one document.
struct Parser<'t> {
    text: &'t str,
    source: &'t str,
    errors: Vec<ConfigError>,
}

impl Parser<'_> {
    fn document(&mut self, root: &Table) -> Parts {
        self.reject_unknown_top_level(root);
        let sections = Sections {
            agent: self.section(root, "agent"),
            profile: self.section(root, "profile"),
            instances: self.entries(root, "instance"),
            checks: self.entries(root, "check"),
            attestations: self.entries(root, "attestation"),
            inherited: self.entries(root, "inherited"),
        };
        if root.get("profile").is_none() {
            self.error(
                None,
                "missing [profile] section (catalog = \"nist-csf-1.1\" or \"nist-csf-2.0\")",
            );
        }
        self.validate(sections)
    }

    fn validate(&mut self, sections: Sections) -> Parts {
        let agent = self.agent(sections.agent.unwrap_or_default());
        let (profile, rules) = match sections.profile {
            Some(raw) => self.profile(raw),
            None => (None, None),
        };
        let index = self.instance_index(&sections.instances);
        let instances = sections.instances.iter().filter_map(|e| self.instance(e)).collect();
        self.reject_duplicate_names("check", sections.checks.iter().map(|e| &e.item));
        let rules = rules.as_ref();
        let checks = sections.checks.iter().filter_map(|e| self.check(e, &index, rules)).collect();
        let attestations =
            sections.attestations.iter().filter_map(|e| self.attestation(e, rules)).collect();
        let inherited =
            sections.inherited.iter().filter_map(|e| self.inherited(e, rules)).collect();
        Parts { agent, profile, instances, checks, attestations, inherited }
    }

    fn finish(self, parts: Parts) -> Result<Config, ConfigErrors> {
        let profile = match parts.profile {
            Some(profile) if self.errors.is_empty() => profile,
            _ => return Err(self.into_errors()),
        };
        let digest = hex::encode(Sha256::digest(self.text.as_bytes()));
        Ok(Config {
            source: self.source.to_owned(),
            digest,
            agent: parts.agent,
            instances: parts.instances,
            checks: parts.checks,
            attestations: parts.attestations,
            inherited: parts.inherited,
            profile,
        })
    }

    fn into_errors(mut self) -> ConfigErrors {
        self.errors.sort_by_key(|e| (e.line, e.column));
        ConfigErrors(self.errors)
    }

    // Positions and errors.

    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let (line, column) = span.map_or((1, 1), |span| line_column(self.text, span.start));
        self.errors.push(ConfigError {
            source: self.source.to_owned(),
            line,
            column,
            message: message.into(),
        });
    }

    fn de_error(
        &mut self,
        prefix: &str,
        err: &toml_edit::de::Error,
        fallback: Option<Range<usize>>,
    ) {
        let message = format!("{prefix}{}", one_line(err.message()));
        self.error(err.span().or(fallback), message);
    }

    // Structure: sections, entries, unknown keys.

    fn reject_unknown_top_level(&mut self, root: &Table) {
        for (key, _) in root.iter() {
            if !TOP_LEVEL_KEYS.contains(&key) {
                let span = root.key(key).and_then(|k| k.span());
                let known = TOP_LEVEL_KEYS.join(", ");
                self.error(span, format!("unknown top-level key `{key}`, expected one of {known}"));
            }
        }
    }

    fn section<T: DeserializeOwned>(&mut self, root: &Table, key: &str) -> Option<T> {
        let item = root.get(key)?;
        if item.as_table_like().is_none() || item.is_array_of_tables() {
            let span = root.key(key).and_then(|k| k.span());
            self.error(span, format!("`{key}` must be a table, written [{key}]"));
            return None;
        }
        self.deserialize_table(item, &format!("[{key}]"))
    }

    fn entries<T: DeserializeOwned>(&mut self, root: &Table, key: &str) -> Vec<Entry<T>> {
        let Some(item) = root.get(key) else {
            return Vec::new();
        };
        let items: Vec<Item> = match item {
            Item::ArrayOfTables(tables) => tables.iter().map(|t| Item::Table(t.clone())).collect(),
            Item::Value(Value::Array(array)) if array.iter().all(Value::is_inline_table) => {
                array.iter().map(|v| Item::Value(v.clone())).collect()
            }
            _ => {
                let span = root.key(key).and_then(|k| k.span());
                self.error(span, format!("`{key}` must be an array of tables, written [[{key}]]"));
                return Vec::new();
            }
        };
        let context = format!("[[{key}]]");
        items
            .into_iter()
            .map(|item| {
                let raw = self.deserialize_table(&item, &context);
                Entry { item, raw }
            })
            .collect()
    }

    /// Deserializes one table, reporting every unknown key at its position and then
    /// deserializing the rest, so that an unknown key does not hide other mistakes.
    fn deserialize_table<T: DeserializeOwned>(&mut self, item: &Item, context: &str) -> Option<T> {
        let table = item.as_table_like()?;
        let known = struct_fields::<T>();
        let mut copy = item.clone();
        for (key, _) in table.iter() {
            if known.contains(&key) {
                continue;
            }
            let span = table.key(key).and_then(|k| k.span());
            let expected = known.join(", ");
            self.error(
                span,
                format!("unknown key `{key}` in {context}, expected one of {expected}"),
            );
            if let Some(copy) = copy.as_table_like_mut() {
                copy.remove(key);
            }
        }
        self.deserialize_reporting_each_bad_value(table, copy, item.span())
    }

    /// Deserializes `copy`; a value of the wrong type is reported, dropped and the rest tried
    /// again, so that `timeout_secs = -5` does not hide a bad schedule in the same entry. An
    /// entry that then lacks a required key is given up without a second, derived error.
    fn deserialize_reporting_each_bad_value<T: DeserializeOwned>(
        &mut self,
        table: &dyn TableLike,
        copy: Item,
        fallback: Option<Range<usize>>,
    ) -> Option<T> {
        let de = |value: Value| T::deserialize(value.into_deserializer());
        self.reporting_each_bad_key(table, copy, fallback, "", de)
    }

    /// Runs `de` on `copy` until it succeeds: each failure is reported with `prefix`, and the
    /// top-level key it is about (an unknown one, or one whose value has the wrong type) is
    /// dropped before the next try. Gives up, without a derived "missing field" error, when the
    /// failure is about a dropped key or names no key.
    fn reporting_each_bad_key<T>(
        &mut self,
        table: &dyn TableLike,
        mut copy: Item,
        fallback: Option<Range<usize>>,
        prefix: &str,
        de: impl Fn(Value) -> Result<T, toml_edit::de::Error>,
    ) -> Option<T> {
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let value = copy.clone().into_value().ok()?;
            let err = match de(value) {
                Ok(raw) => return Some(raw),
                Err(err) => err,
            };
            if dropped.iter().any(|key| err.message().contains(&format!("`{key}`"))) {
                return None;
            }
            self.de_error(prefix, &err, fallback.clone());
            let bad = unknown_field(err.message())
                .filter(|key| table.contains_key(key))
                .or_else(|| err.span().and_then(|span| key_holding(table, &span)))?;
            if dropped.contains(&bad) {
                return None;
            }
            copy.as_table_like_mut()?.remove(&bad);
            dropped.push(bad);
        }
    }

    // [agent]

    fn agent(&mut self, raw: AgentConfig) -> Agent {
        let state_dir = self.absolute(raw.state_dir, "state_dir");
        let publish_dir = self.absolute(raw.publish_dir, "publish_dir");
        let webhooks = raw.webhooks.into_iter().filter_map(|url| self.webhook(url)).collect();
        let runs = self.bounded(
            raw.max_concurrent_runs,
            DEFAULT_MAX_CONCURRENT_RUNS,
            1024,
            "max_concurrent_runs",
        );
        let bytes =
            self.bounded(raw.max_read_bytes, DEFAULT_MAX_READ_BYTES, u64::MAX, "max_read_bytes");
        let lead = raw.webhook_expiry_lead_hours;
        let max = 24 * super::MAX_EXPIRY_LEAD_DAYS.unsigned_abs();
        let lead = self.bounded(lead, DEFAULT_EXPIRY_LEAD_HOURS, max, "webhook_expiry_lead_hours");
        Agent {
            state_dir,
            publish_dir,
            webhooks,
            webhook_expiry_lead: chrono::Duration::hours(i64::try_from(lead).unwrap_or(24)),
            max_concurrent_runs: usize::try_from(runs).unwrap_or(1024),
            max_read_bytes: bytes,
        }
    }

    /// A webhook URL: http or https, no credentials in it (use the receiver's own auth).
    fn webhook(&mut self, url: Spanned<String>) -> Option<reqwest::Url> {
        let span = url.span();
        match reqwest::Url::parse(url.get_ref()) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(parsed),
            Ok(parsed) => {
                let message = format!("webhook scheme {} is not http or https", parsed.scheme());
                self.error(Some(span), message);
                None
            }
            Err(e) => {
                self.error(Some(span), format!("webhook is not a URL: {e}"));
                None
            }
        }
    }

    /// An absolute path setting; a relative one is an error at its position.
    fn absolute(&mut self, dir: Option<Spanned<PathBuf>>, key: &str) -> Option<PathBuf> {
        let dir = dir?;
        if !dir.get_ref().is_absolute() {
            self.error(Some(dir.span()), &format!("{key} must be an absolute path"));
            return None;
        }
        // A directory that does not exist yet is created on first use; anything else in its
        // place would fail only at the first run, long after the operator looked.
        let path = dir.get_ref();
        if path.exists() && !path.is_dir() {
            let message = format!("{key} {} exists and is not a directory", path.display());
            self.error(Some(dir.span()), &message);
            return None;
        }
        Some(dir.into_inner())
    }

    /// A positive integer setting no larger than `max`, or its default.
    fn bounded(&mut self, value: Option<Spanned<u64>>, default: u64, max: u64, key: &str) -> u64 {
        let Some(value) = value else {
            return default;
        };
        let (span, number) = (value.span(), *value.get_ref());
        if number == 0 || number > max {
            let message = match max {
                u64::MAX => format!("{key} must be at least 1"),
                _ => format!("{key} must be between 1 and {max}, not {number}"),
            };
            self.error(Some(span), message);
            return default;
        }
        number
    }

    // [profile]

    fn profile(&mut self, raw: ProfileConfig) -> (Option<Profile>, Option<ScopeRules>) {
        let Some(catalog) = CatalogId::from_name(raw.catalog.get_ref()) else {
            let known: Vec<&str> = CatalogId::ALL.iter().map(|c| c.as_str()).collect();
            let message = format!(
                "unknown catalog `{}`, expected one of {}",
                raw.catalog.get_ref(),
                known.join(", ")
            );
            self.error(Some(raw.catalog.span()), message);
            return (None, None);
        };
        let not_applicable = self.not_applicable(catalog, raw.not_applicable);
        let excluded: HashSet<String> =
            not_applicable.iter().map(|n| n.control.0.clone()).collect();
        let scope = match raw.scope {
            Some(ids) => self.explicit_scope(catalog, &ids, &excluded),
            None => Catalog::get(catalog)
                .controls()
                .iter()
                .filter(|c| !excluded.contains(&c.id))
                .map(|c| ControlId(c.id.clone()))
                .collect(),
        };
        let rules = ScopeRules {
            catalog,
            in_scope: scope.iter().map(|c| c.0.clone()).collect(),
            not_applicable: excluded,
        };
        (Some(Profile { catalog, scope, not_applicable }), Some(rules))
    }

    fn not_applicable(
        &mut self,
        catalog: CatalogId,
        raw: Vec<NotApplicableConfig>,
    ) -> Vec<NotApplicable> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for entry in raw {
            let control = self.control_id(catalog, &entry.control);
            let justification = match entry.justification {
                Some(text) if !text.get_ref().trim().is_empty() => Some(text.into_inner()),
                Some(text) => {
                    self.error(Some(text.span()), "justification must not be empty");
                    None
                }
                None => {
                    let id = entry.control.get_ref();
                    let message = format!("not_applicable `{id}` needs a justification");
                    self.error(Some(entry.control.span()), message);
                    None
                }
            };
            let (Some(control), Some(justification)) = (control, justification) else {
                continue;
            };
            if !seen.insert(control.0.clone()) {
                let message = format!("control `{control}` is listed twice in not_applicable");
                self.error(Some(entry.control.span()), message);
                continue;
            }
            out.push(NotApplicable { control, justification });
        }
        out
    }

    /// The listed controls in catalog order; none of them may also be not applicable.
    fn explicit_scope(
        &mut self,
        catalog: CatalogId,
        ids: &Spanned<Vec<Spanned<String>>>,
        excluded: &HashSet<String>,
    ) -> Vec<ControlId> {
        if ids.get_ref().is_empty() {
            let message = "scope must list at least one control (leave it out for all of them)";
            self.error(Some(ids.span()), message);
        }
        let mut listed = HashSet::new();
        for id in ids.get_ref() {
            let Some(control) = self.control_id(catalog, id) else {
                continue;
            };
            if excluded.contains(&control.0) {
                let message = format!("control `{control}` is both in scope and not_applicable");
                self.error(Some(id.span()), message);
            } else if !listed.insert(control.0.clone()) {
                self.error(
                    Some(id.span()),
                    format!("control `{control}` is listed twice in scope"),
                );
            }
        }
        Catalog::get(catalog)
            .controls()
            .iter()
            .filter(|c| listed.contains(&c.id))
            .map(|c| ControlId(c.id.clone()))
            .collect()
    }

    fn control_id(&mut self, catalog: CatalogId, id: &Spanned<String>) -> Option<ControlId> {
        match control_problem(catalog, id.get_ref()) {
            None => Some(ControlId(id.get_ref().clone())),
            Some(message) => {
                self.error(Some(id.span()), message);
                None
            }
        }
    }

    /// The `controls` list of a check, attestation or inherited certification: non-empty,
    /// every id in the catalog and in scope.
    fn proven_controls(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        rules: Option<&ScopeRules>,
    ) -> Option<Vec<ControlId>> {
        if list.get_ref().is_empty() {
            self.error(Some(list.span()), "controls must list at least one control");
            return None;
        }
        let rules = rules?;
        let mut out: Vec<ControlId> = Vec::new();
        let mut ok = true;
        for id in list.get_ref() {
            match self.control_id(rules.catalog, id) {
                Some(control) if out.contains(&control) => {
                    self.error(Some(id.span()), format!("control `{control}` is listed twice"));
                    ok = false;
                }
                Some(control) => match scope_problem(rules, &control) {
                    None => out.push(control),
                    Some(message) => {
                        self.error(Some(id.span()), message);
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    // [[instance]]

    fn instance_index(
        &mut self,
        entries: &[Entry<InstanceConfig>],
    ) -> HashMap<String, InstanceInfo> {
        self.reject_duplicate_names("instance", entries.iter().map(|e| &e.item));
        let mut index = HashMap::new();
        for entry in entries {
            let Some(table) = entry.item.as_table_like() else {
                continue;
            };
            let Some(name) = table.get("name").and_then(Item::as_str) else {
                continue;
            };
            let kind =
                table.get("collector").and_then(Item::as_str).and_then(CollectorKind::from_name);
            let params = table.get("params").cloned();
            index.entry(name.to_owned()).or_insert(InstanceInfo { kind, params });
        }
        index
    }

    fn reject_duplicate_names<'i>(&mut self, what: &str, items: impl Iterator<Item = &'i Item>) {
        let mut first: HashMap<String, usize> = HashMap::new();
        for item in items {
            let Some(value) = item.as_table_like().and_then(|t| t.get("name")) else {
                continue;
            };
            let Some(name) = value.as_str() else {
                continue;
            };
            let line = value.span().map_or(1, |s| line_column(self.text, s.start).0);
            match first.get(name) {
                Some(at) => {
                    let message =
                        format!("duplicate {what} name `{name}` (first defined on line {at})");
                    self.error(value.span(), message);
                }
                None => {
                    first.insert(name.to_owned(), line);
                }
            }
        }
    }

    fn instance(&mut self, entry: &Entry<InstanceConfig>) -> Option<Instance> {
        let raw = entry.raw.as_ref()?;
        let name = self.non_empty("name", &raw.name);
        let kind = self.collector_kind(&raw.collector);
        let settings = kind.and_then(|kind| self.settings(kind, &entry.item));
        let schedule = self.schedule(raw);
        let timeout = self.bounded(
            raw.timeout_secs.clone(),
            DEFAULT_TIMEOUT_SECS,
            MAX_TIMEOUT_SECS,
            "timeout_secs",
        );
        Some(Instance {
            name: name?,
            settings: settings?,
            schedule: schedule?,
            timeout: Duration::from_secs(timeout),
        })
    }

    fn collector_kind(&mut self, collector: &Spanned<String>) -> Option<CollectorKind> {
        let kind = CollectorKind::from_name(collector.get_ref());
        if kind.is_none() {
            let known: Vec<&str> = CollectorKind::ALL.iter().map(|k| k.as_str()).collect();
            let message = format!(
                "unknown collector `{}`, expected one of {}",
                collector.get_ref(),
                known.join(", ")
            );
            self.error(Some(collector.span()), message);
        }
        kind
    }

    fn schedule(&mut self, raw: &InstanceConfig) -> Option<Schedule> {
        let expr = raw.schedule.get_ref();
        let timezone = raw.timezone.as_ref().map_or("UTC", |tz| tz.get_ref().as_str());
        let splay = match &raw.splay_secs {
            Some(splay) if *splay.get_ref() > MAX_SPLAY_SECS => {
                let message = format!("splay_secs must be at most {MAX_SPLAY_SECS}");
                self.error(Some(splay.span()), message);
                0
            }
            Some(splay) => *splay.get_ref(),
            None => 0,
        };
        match Schedule::parse(expr, timezone, splay) {
            Ok(schedule) => Some(schedule),
            Err(err @ ScheduleError::TimeZone { .. }) => {
                let span = raw.timezone.as_ref().map(Spanned::span);
                self.error(span, err.to_string());
                // The expression may be wrong as well; check it on its own.
                if let Err(err) = Schedule::parse(expr, "UTC", splay) {
                    self.schedule_error(raw, &err);
                }
                None
            }
            Err(err) => {
                self.schedule_error(raw, &err);
                None
            }
        }
    }

    fn schedule_error(&mut self, raw: &InstanceConfig, err: &ScheduleError) {
        let message = format!("invalid schedule `{}`: {err}", raw.schedule.get_ref());
        self.error(Some(raw.schedule.span()), message);
    }

    /// Deserializes `params` into the collector's config type and validates it.
    fn settings(&mut self, kind: CollectorKind, entry: &Item) -> Option<Settings> {
        let params = entry.as_table_like().and_then(|t| t.get("params"));
        let fallback = params.and_then(Item::span).or_else(|| entry.span());
        let empty = Item::Value(Value::InlineTable(InlineTable::new()));
        let item = params.unwrap_or(&empty);
        let table = item.as_table_like()?;
        let de = |value: Value| match collector_settings(kind, value) {
            Err(ParamsProblem::Shape(err)) => Err(err),
            checked => Ok(checked),
        };
        let checked =
            self.reporting_each_bad_key(table, item.clone(), fallback.clone(), "params: ", de);
        match checked? {
            Ok(settings) => Some(settings),
            Err(ParamsProblem::Shape(_)) => None,
            Err(ParamsProblem::Invalid(errors)) => {
                for err in errors {
                    let span = params.and_then(|p| param_span(p, &err.key)).or(fallback.clone());
                    self.error(span, format!("params.{}: {}", err.key, err.message));
                }
                None
            }
        }
    }

    // [[check]]

    fn check(
        &mut self,
        entry: &Entry<CheckConfig>,
        index: &HashMap<String, InstanceInfo>,
        rules: Option<&ScopeRules>,
    ) -> Option<Check> {
        let raw = entry.raw.as_ref()?;
        let name = self.non_empty("name", &raw.name);
        let judgement = self.judgement(&entry.item, &raw.judgement);
        let instance_ok = self.check_instance(&entry.item, raw, index);
        let max_age = self.max_age(&raw.max_age_hours);
        let controls = self.proven_controls(&raw.controls, rules);
        let public_facts = self.public_facts(&raw.public_facts);
        if !instance_ok {
            return None;
        }
        Some(Check {
            name: name?,
            instance: raw.instance.get_ref().clone(),
            judgement: judgement?,
            max_age: max_age?,
            controls: controls?,
            public_facts: public_facts?,
        })
    }

    /// `public_facts`: distinct RFC 6901 JSON pointers into the facts, none of them the whole
    /// document (which would publish raw evidence).
    fn public_facts(&mut self, pointers: &[Spanned<String>]) -> Option<Vec<String>> {
        let mut valid = Vec::new();
        let mut ok = true;
        for pointer in pointers {
            let text = pointer.get_ref();
            let problem = pointer_problem(text)
                .or_else(|| valid.contains(text).then(|| format!("{text:?} is listed twice")));
            if let Some(problem) = problem {
                self.error(Some(pointer.span()), format!("public_facts: {problem}"));
                ok = false;
            } else {
                valid.push(text.clone());
            }
        }
        ok.then_some(valid)
    }

    /// Deserializes the check's `judgement` and `params` keys into a [`Judgement`]. Judgements
    /// without parameters accept both a missing `params` and an empty table; when the form as
    /// written fails, the other one is tried before the first error is reported.
    fn judgement(&mut self, entry: &Item, name: &Spanned<String>) -> Option<Judgement> {
        let table = entry.as_table_like()?;
        let tag = table.get("judgement")?.clone().into_value().ok()?;
        let params = match table.get("params") {
            Some(item) => Some(item.clone().into_value().ok()?),
            None => None,
        };
        let empty =
            params.as_ref().is_none_or(|p| p.as_inline_table().is_some_and(|t| t.is_empty()));
        let alternative = match &params {
            None => Some(Value::InlineTable(InlineTable::new())),
            Some(_) => None,
        };
        let first = match deserialize_judgement(tag.clone(), params) {
            Ok(judgement) => return self.judgement_values(table, judgement),
            Err(err) => err,
        };
        if empty {
            if let Ok(judgement) = deserialize_judgement(tag, alternative) {
                return self.judgement_values(table, judgement);
            }
        }
        let fallback = table.get("params").and_then(Item::span).or(Some(name.span()));
        self.de_error(&format!("judgement `{}`: ", name.get_ref()), &first, fallback);
        None
    }

    /// Checks the values of judgement parameters whose type alone does not make them valid.
    fn judgement_values(
        &mut self,
        check: &dyn TableLike,
        judgement: Judgement,
    ) -> Option<Judgement> {
        let Some((key, message)) = judgement_value_problem(&judgement) else {
            return Some(judgement);
        };
        let params = check.get("params");
        let span = params
            .and_then(Item::as_table_like)
            .and_then(|p| p.get(key))
            .and_then(Item::span)
            .or_else(|| params.and_then(Item::span));
        self.error(span, format!("params.{key}: {message}"));
        None
    }

    /// The named instance exists, suits the judgement, and defines the pattern it names.
    fn check_instance(
        &mut self,
        entry: &Item,
        raw: &CheckConfig,
        index: &HashMap<String, InstanceInfo>,
    ) -> bool {
        let instance = raw.instance.get_ref();
        let Some(info) = index.get(instance) else {
            let mut known: Vec<&str> = index.keys().map(String::as_str).collect();
            known.sort_unstable();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            let message = format!("no instance named `{instance}` (instances: {known})");
            self.error(Some(raw.instance.span()), message);
            return false;
        };
        let Some(kind) = info.kind else {
            return true;
        };
        let judgement = raw.judgement.get_ref();
        if let Some(needed) = judgement_collector(judgement).filter(|needed| *needed != kind) {
            let message = format!(
                "judgement `{judgement}` needs a `{}` instance; `{instance}` is a `{}` instance",
                needed.as_str(),
                kind.as_str()
            );
            self.error(Some(raw.judgement.span()), message);
            return false;
        }
        self.check_pattern_name(entry, instance, info)
    }

    /// `file_matches` and `file_lacks` name a pattern that must be in the instance's
    /// `patterns` table.
    fn check_pattern_name(&mut self, entry: &Item, instance: &str, info: &InstanceInfo) -> bool {
        let pattern = entry
            .as_table_like()
            .and_then(|t| t.get("params"))
            .and_then(Item::as_table_like)
            .and_then(|p| p.get("pattern"));
        let Some((pattern, span)) = pattern.and_then(|p| Some((p.as_str()?, p.span()))) else {
            return true;
        };
        let defined = info
            .params
            .as_ref()
            .and_then(Item::as_table_like)
            .and_then(|p| p.get("patterns"))
            .and_then(Item::as_table_like);
        let names: Vec<&str> =
            defined.map(|t| t.iter().map(|(k, _)| k).collect()).unwrap_or_default();
        if names.contains(&pattern) {
            return true;
        }
        let names = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
        let message = format!(
            "pattern `{pattern}` is not defined in the patterns of instance `{instance}` \
             (defined: {names})"
        );
        self.error(span, message);
        false
    }

    fn max_age(&mut self, hours: &Spanned<u64>) -> Option<chrono::Duration> {
        let value = *hours.get_ref();
        let duration = i64::try_from(value).ok().and_then(chrono::Duration::try_hours);
        match duration {
            Some(duration) if (1..=MAX_AGE_HOURS_LIMIT).contains(&value) => Some(duration),
            _ => {
                let message = format!(
                    "max_age_hours must be between 1 and {MAX_AGE_HOURS_LIMIT}, not {value}"
                );
                self.error(Some(hours.span()), message);
                None
            }
        }
    }

    // [[attestation]] and [[inherited]]

    fn attestation(
        &mut self,
        entry: &Entry<AttestationConfig>,
        rules: Option<&ScopeRules>,
    ) -> Option<Attestation> {
        let raw = entry.raw.as_ref()?;
        let controls = self.proven_controls(&raw.controls, rules);
        let signer = self.non_empty("signer", &raw.signer);
        let statement = self.non_empty("statement", &raw.statement);
        let date = self.date("date", &raw.date);
        let expires = self.date("expires", &raw.expires);
        let document = raw.document.as_ref().map(|d| self.document_pin(d));
        if let (Some(date), Some(expires)) = (date, expires) {
            if expires < date {
                let message =
                    format!("expires ({expires}) is before the attestation's date ({date})");
                self.error(Some(raw.expires.span()), message);
                return None;
            }
        }
        let document = match document {
            Some(pin) => Some(pin?),
            None => None,
        };
        Some(Attestation {
            controls: controls?,
            signer: signer?,
            statement: statement?,
            date: date?,
            expires: expires?,
            document,
        })
    }

    fn document_pin(&mut self, raw: &DocumentConfig) -> Option<PinnedDocument> {
        let path = raw.path.get_ref();
        let path_ok = path.is_absolute();
        if !path_ok {
            self.error(Some(raw.path.span()), "document path must be absolute");
        }
        let sha256 = raw.sha256.get_ref();
        let digest_ok = is_sha256_hex(sha256);
        if !digest_ok {
            self.error(Some(raw.sha256.span()), sha256_message(sha256));
        }
        (path_ok && digest_ok)
            .then(|| PinnedDocument { path: path.clone(), sha256: sha256.to_ascii_lowercase() })
    }

    fn inherited(
        &mut self,
        entry: &Entry<InheritedConfig>,
        rules: Option<&ScopeRules>,
    ) -> Option<Inherited> {
        let raw = entry.raw.as_ref()?;
        let controls = self.proven_controls(&raw.controls, rules);
        let provider = self.non_empty("provider", &raw.provider);
        let certification = self.non_empty("certification", &raw.certification);
        let reference = self.non_empty("reference", &raw.reference);
        let expires = self.date("expires", &raw.expires);
        Some(Inherited {
            controls: controls?,
            provider: provider?,
            certification: certification?,
            reference: reference?,
            expires: expires?,
        })
    }

    // Scalars.

    fn non_empty(&mut self, key: &str, value: &Spanned<String>) -> Option<String> {
        if value.get_ref().trim().is_empty() {
            self.error(Some(value.span()), format!("{key} must not be empty"));
            return None;
        }
        Some(value.get_ref().clone())
    }

    fn date(&mut self, key: &str, value: &Spanned<DateText>) -> Option<NaiveDate> {
        let text = &value.get_ref().0;
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        let parsed = shaped.then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten();
        if parsed.is_none() {
            let message = format!("{key} `{text}` is not a date (expected YYYY-MM-DD)");
            self.error(Some(value.span()), message);
        }
        parsed
    }
}

/// Why a control id is not usable in `catalog`, naming the other version when it is one of
/// its ids.
fn control_problem(catalog: CatalogId, id: &str) -> Option<String> {
    let this = Catalog::get(catalog);
    if this.control(id).is_some() {
        return None;
    }
    let other = catalog.other();
    if Catalog::get(other).control(id).is_some() {
        let hint = match counterparts(id, catalog).as_slice() {
            [] => "the crosswalk has no counterpart".to_owned(),
            ids => format!("counterpart: {}", ids.join(", ")),
        };
        return Some(format!(
            "`{id}` is a {} id; this profile uses {} ({hint})",
            other.title(),
            catalog.as_str()
        ));
    }
    if this.is_category(id) || this.is_function(id) {
        let what = if this.is_category(id) { "category" } else { "function" };
        return Some(format!(
            "`{id}` is a {what} of {catalog}, not a control; list its subcategories instead"
        ));
    }
    let near = this.controls().iter().find(|c| c.id.eq_ignore_ascii_case(id));
    Some(match near {
        Some(near) => format!("unknown control `{id}` in {catalog}; did you mean `{}`?", near.id),
        None => format!("unknown control `{id}` in {catalog}"),
    })
}

/// Why a catalog control cannot be proven under this profile, if it cannot.
fn scope_problem(rules: &ScopeRules, control: &ControlId) -> Option<String> {
    if rules.not_applicable.contains(&control.0) {
        return Some(format!("control `{control}` is not_applicable in [profile]"));
    }
    if !rules.in_scope.contains(&control.0) {
        return Some(format!("control `{control}` is not in the profile's scope"));
    }
    None
}

/// The collector a built-in judgement needs, when only one collector reports the facts it
/// reads; `None` for judgements over facts any collector may report.
fn judgement_collector(judgement: &str) -> Option<CollectorKind> {
    match judgement {
        "exists" | "absent" | "file_mode_at_most" | "file_matches" | "file_lacks"
        | "reviewed_within" | "sha256_pinned" => Some(CollectorKind::File),
        "exit_code" => Some(CollectorKind::Command),
        "http_status" | "header_present" | "cert_days_left" => Some(CollectorKind::Http),
        _ => None,
    }
}

/// A parameter of a deserialized judgement whose value is unusable, and why.
fn judgement_value_problem(judgement: &Judgement) -> Option<(&'static str, String)> {
    match judgement {
        Judgement::FactEquals { pointer, .. }
        | Judgement::FactMatches { pointer, .. }
        | Judgement::FactAtLeast { pointer, .. }
        | Judgement::FactAtMost { pointer, .. }
            if !pointer.is_empty() && !pointer.starts_with('/') =>
        {
            let message = format!("`{pointer}` is not a JSON pointer (it must start with `/`)");
            Some(("pointer", message))
        }
        Judgement::Sha256Pinned { sha256 } if !is_sha256_hex(sha256) => {
            Some(("sha256", sha256_message(sha256)))
        }
        _ => None,
    }
}

/// Why `text` is not a JSON pointer to a part of the facts, if it is not.
fn pointer_problem(text: &str) -> Option<String> {
    if text.is_empty() || text == "/" {
        return Some("a pointer must name a field, not the whole evidence".into());
    }
    if !text.starts_with('/') {
        return Some(format!("{text:?} is not a JSON pointer (it must start with /)"));
    }
    if text.len() > 256 {
        return Some("a pointer is at most 256 characters".into());
    }
    let bad_escape = text
        .match_indices('~')
        .any(|(i, _)| !matches!(text.as_bytes().get(i + 1), Some(b'0' | b'1')));
    if bad_escape {
        return Some(format!("{text:?} has a ~ not followed by 0 or 1"));
    }
    if text.split('/').skip(1).any(str::is_empty) {
        return Some(format!("{text:?} has an empty segment"));
    }
    None
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn sha256_message(text: &str) -> String {
    let count = text.chars().count();
    if count == 64 {
        "sha256 must be 64 hex characters, found a character that is not hex".to_owned()
    } else {
        format!("sha256 must be 64 hex characters, found {count} characters")
    }
}

/// Deserializes a [`Judgement`] from its tag and, if given, its parameters.
fn deserialize_judgement(
    tag: Value,
    params: Option<Value>,
) -> Result<Judgement, toml_edit::de::Error> {
    let mut pair = InlineTable::new();
    pair.insert("judgement", tag);
    if let Some(params) = params {
        pair.insert("params", params);
    }
    Judgement::deserialize(Value::InlineTable(pair).into_deserializer())
}

/// Why an instance's `params` did not become settings.
enum ParamsProblem {
    /// The table does not fit the collector's config type (unknown key, wrong type, missing).
    Shape(toml_edit::de::Error),
    /// The collector's own validation failed.
    Invalid(Vec<ParamError>),
}

fn collector_settings(kind: CollectorKind, params: Value) -> Result<Settings, ParamsProblem> {
    match kind {
        CollectorKind::File => {
            let raw = collectors::file::FileConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::File).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Command => {
            let raw = collectors::command::CommandConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Command).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Http => {
            let raw = collectors::http::HttpConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Http).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Advisories => {
            use collectors::advisories::AdvisoriesConfig;
            let raw = AdvisoriesConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Advisories).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Firewall => {
            use collectors::firewall::FirewallConfig;
            let raw = FirewallConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Firewall).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Tls => {
            let raw = collectors::tls::TlsConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Tls).map_err(ParamsProblem::Invalid)
        }
        CollectorKind::Backup => {
            let raw = collectors::backup::BackupConfig::deserialize(params.into_deserializer());
            let raw = raw.map_err(ParamsProblem::Shape)?;
            raw.validate().map(Settings::Backup).map_err(ParamsProblem::Invalid)
        }
    }
}

/// The span of a [`ParamError`] key such as `patterns.no_root` or `paths[2]` inside `params`:
/// the key itself for a table entry, the element for an array index; the deepest part found.
fn param_span(params: &Item, key: &str) -> Option<Range<usize>> {
    let mut node = Node::Item(params);
    let mut span = params.span();
    for segment in key.split('.') {
        let (name, indices) = split_indices(segment);
        if !name.is_empty() {
            let Some((key, item)) = node.table().and_then(|t| t.get_key_value(name)) else {
                return span;
            };
            span = key.span().or_else(|| item.span()).or(span);
            node = Node::Item(item);
        }
        for index in indices {
            let Some(value) = node.array().and_then(|a| a.get(index)) else {
                return span;
            };
            span = value.span().or(span);
            node = Node::Value(value);
        }
    }
    span
}

/// `paths[2][0]` → (`paths`, [2, 0]); a malformed suffix is ignored.
fn split_indices(segment: &str) -> (&str, Vec<usize>) {
    let Some(open) = segment.find('[') else {
        return (segment, Vec::new());
    };
    let indices = segment[open..]
        .split('[')
        .filter_map(|part| part.strip_suffix(']'))
        .filter_map(|number| number.parse().ok())
        .collect();
    (&segment[..open], indices)
}

/// A position inside `params`: a table entry or an array element.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    fn array(self) -> Option<&'a Array> {
        match self {
            Node::Item(item) => item.as_array(),
            Node::Value(value) => value.as_array(),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset`.
/// The key an "unknown field `x`" error names.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(key, _)| key.to_owned())
}

/// The top-level key of `table` whose value contains `span`.
fn key_holding(table: &dyn TableLike, span: &Range<usize>) -> Option<String> {
    table.iter().find_map(|(key, item)| {
        let value = item.span()?;
        (value.start <= span.start && span.end <= value.end).then(|| key.to_owned())
    })
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parser messages may span lines; errors are one line each.
fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// The field names of a derived struct `T`, read from what its `Deserialize` impl asks for.
fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let fields = Cell::new(&[][..]);
    // The capture always ends in an error once the fields are known; only the fields matter.
    let _ = T::deserialize(FieldCapture(&fields));
    fields.get()
}

struct FieldCapture<'c>(&'c Cell<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldCapture<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(fields);
        Err(serde::de::Error::custom("fields captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Errors as `line:column: message`, the source left out.
    fn errors(text: &str) -> Vec<String> {
        match parse_str(text, "test.toml") {
            Ok(_) => Vec::new(),
            Err(errors) => {
                errors.0.iter().map(|e| format!("{}:{}: {}", e.line, e.column, e.message)).collect()
            }
        }
    }

    fn parse(text: &str) -> Config {
        match parse_str(text, "test.toml") {
            Ok(config) => config,
            Err(errors) => panic!("config should parse:\n{errors}"),
        }
    }

    /// A valid configuration: one instance of each collector, proof of every kind.
    const VALID: &str = r#"
[profile]
catalog = "nist-csf-1.1"
scope = ["PR.DS-2", "ID.AM-2", "PR.AC-1", "PR.AC-2"]
not_applicable = [{ control = "PR.IP-5", justification = "no premises" }]

[[instance]]
name = "passwd"
collector = "file"
schedule = "0 * * * *"
params = { paths = ["/etc/passwd"], patterns = { empty = '^[^:]+::' } }

[[instance]]
name = "kernel"
collector = "command"
schedule = "@daily"
timezone = "Europe/Berlin"
splay_secs = 120
timeout_secs = 10
[instance.params]
argv = ["uname", "-r"]

[[instance]]
name = "site"
collector = "http"
schedule = "*/5 * * * *"
params = { url = "http://127.0.0.1:8080/" }

[[check]]
name = "no_empty_password"
instance = "passwd"
judgement = "file_lacks"
params = { pattern = "empty" }
max_age_hours = 2
controls = ["PR.AC-1"]

[[check]]
name = "passwd_exists"
instance = "passwd"
judgement = "exists"
max_age_hours = 2
controls = ["ID.AM-2"]

[[check]]
name = "site_up"
instance = "site"
judgement = "http_status"
params = { allowed = [200, 204] }
max_age_hours = 1
controls = ["PR.DS-2"]

[[attestation]]
controls = ["PR.AC-2"]
signer = "Jana"
statement = "Doors are locked."
date = 2025-01-15
expires = "2026-01-15"
[attestation.document]
path = "/etc/policy.md"
sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"

[[inherited]]
controls = ["PR.AC-2"]
provider = "Hoster"
certification = "ISO/IEC 27001"
reference = "cert 1234"
expires = "2026-06-30"
"#;

    #[test]
    fn a_valid_config_becomes_validated_types() {
        let config = parse(VALID);
        assert_eq!(config.source, "test.toml");
        assert_eq!(config.digest, hex::encode(Sha256::digest(VALID.as_bytes())));
        assert_eq!(config.agent.max_concurrent_runs, 4);
        assert_eq!(config.agent.max_read_bytes, 16 * 1024 * 1024);
        assert_eq!(config.agent.state_dir, None);
        assert_eq!(config.profile.catalog, CatalogId::Csf11);
        let scope: Vec<&str> = config.profile.scope.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(scope, ["ID.AM-2", "PR.AC-1", "PR.AC-2", "PR.DS-2"], "catalog order");
        assert_eq!(config.profile.not_applicable[0].control.0, "PR.IP-5");
        let kinds: Vec<CollectorKind> =
            config.instances.iter().map(|i| i.settings.kind()).collect();
        assert_eq!(kinds, [CollectorKind::File, CollectorKind::Command, CollectorKind::Http]);
        let kernel = config.instance("kernel").expect("kernel instance");
        assert_eq!(kernel.timeout, Duration::from_secs(10));
        assert_eq!(kernel.schedule.timezone(), "Europe/Berlin");
        assert_eq!(kernel.schedule.splay(), Duration::from_secs(120));
        let passwd = config.instance("passwd").expect("passwd instance");
        assert_eq!(passwd.timeout, Duration::from_secs(60));
        assert_eq!(passwd.schedule.timezone(), "UTC");
        assert_eq!(passwd.schedule.expr(), "0 * * * *");
        assert_eq!(config.checks.len(), 3);
        assert!(matches!(config.checks[1].judgement, Judgement::Exists));
        assert_eq!(config.checks[0].max_age, chrono::Duration::hours(2));
        let attestation = &config.attestations[0];
        assert_eq!(attestation.date, NaiveDate::from_ymd_opt(2025, 1, 15).expect("date"));
        let pin = attestation.document.as_ref().expect("pinned document");
        assert_eq!(pin.sha256, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
        assert_eq!(
            config.inherited[0].expires,
            NaiveDate::from_ymd_opt(2026, 6, 30).expect("date")
        );
    }

    #[test]
    fn three_mistakes_give_three_errors_with_positions() {
        let text = r#"[profile]
catalog = "nist-csf-1.1"

[[instance]]
name = "passwd"
collector = "file"
schedule = "0 25 * * *"
params = { paths = ["/etc/passwd"] }

[[instance]]
name = "other"
collector = "file"
schedule = "@hourly"
colour = "blue"
params = { paths = ["/etc/group"] }

[[check]]
name = "passwd_exists"
instance = "passwd"
judgement = "exists"
max_age_hours = 2
controls = ["ID.AM-2", "PR.XX-9"]
"#;
        assert_eq!(
            errors(text),
            [
                "7:12: invalid schedule `0 25 * * *`: hour field `25`: 25 is out of range 0-23",
                "14:1: unknown key `colour` in [[instance]], expected one of name, collector, \
                 schedule, timezone, splay_secs, timeout_secs, params",
                "22:24: unknown control `PR.XX-9` in nist-csf-1.1",
            ]
        );
    }

    #[test]
    fn unknown_top_level_key() {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\n\n[agnet]\nmax_concurrent_runs = 2\n";
        assert_eq!(
            errors(text),
            ["4:2: unknown top-level key `agnet`, expected one of agent, profile, instance, \
              check, attestation, inherited"]
        );
    }

    #[test]
    fn a_control_of_the_other_version_names_its_catalog_and_counterpart() {
        let old = "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"PR.DS-02\"]\n";
        assert_eq!(
            errors(old),
            ["3:10: `PR.DS-02` is a NIST CSF 2.0 id; this profile uses nist-csf-1.1 \
              (counterpart: PR.DS-2, PR.DS-5)"]
        );
        let new = "[profile]\ncatalog = \"nist-csf-2.0\"\nscope = [\"GV.OC-01\", \"PR.DS-2\"]\n";
        assert_eq!(
            errors(new),
            ["3:22: `PR.DS-2` is a NIST CSF 1.1 id; this profile uses nist-csf-2.0 \
              (counterpart: PR.DS-02)"]
        );
        let unmapped = "[profile]\ncatalog = \"nist-csf-2.0\"\nscope = [\"RC.CO-2\"]\n";
        assert_eq!(
            errors(unmapped),
            ["3:10: `RC.CO-2` is a NIST CSF 1.1 id; this profile uses nist-csf-2.0 \
              (the crosswalk has no counterpart)"]
        );
    }

    #[test]
    fn a_syntax_error_is_one_error_with_its_position() {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"PR.AC-1\",\n[[check]]\n";
        let found = errors(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("4:3: invalid array; expected `]`"), "{found:?}");
        assert!(!found[0].contains('\n'));
    }

    #[test]
    fn errors_display_as_file_line_column() {
        let text = "[profile]\ncatalog = \"nist-csf-9\"\n[foo]\n";
        let err = parse_str(text, "/etc/beweis/beweis.toml").expect_err("two mistakes");
        assert_eq!(
            err.to_string(),
            "/etc/beweis/beweis.toml:2:11: unknown catalog `nist-csf-9`, expected one of \
             nist-csf-1.1, nist-csf-2.0\n\
             /etc/beweis/beweis.toml:3:2: unknown top-level key `foo`, expected one of agent, \
             profile, instance, check, attestation, inherited"
        );
    }

    /// `VALID` with `from` replaced by `to` (which must occur exactly once).
    fn valid_with(from: &str, to: &str) -> String {
        assert_eq!(VALID.matches(from).count(), 1, "{from}");
        VALID.replace(from, to)
    }

    fn line_of(text: &str, needle: &str) -> usize {
        let offset = text.find(needle).expect("needle in text");
        line_column(text, offset).0
    }

    /// Each mutation of `VALID` yields exactly one error, on the mutated line, with this
    /// message.
    #[test]
    fn semantic_mistakes_are_reported_where_they_are() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"collector = "http""#,
                r#"collector = "ftp""#,
                "unknown collector `ftp`, expected one of file, command, http, tls, advisories, \
                 backup, firewall",
            ),
            (
                r#"name = "kernel""#,
                r#"name = "passwd""#,
                "duplicate instance name `passwd` (first defined on line 8)",
            ),
            (
                r#"name = "site_up""#,
                r#"name = "passwd_exists""#,
                "duplicate check name `passwd_exists` (first defined on line 38)",
            ),
            (
                r#"instance = "site""#,
                r#"instance = "web""#,
                "no instance named `web` (instances: kernel, passwd, site)",
            ),
            (
                "instance = \"passwd\"\njudgement = \"exists\"",
                "instance = \"kernel\"\njudgement = \"exists\"",
                "judgement `exists` needs a `file` instance; `kernel` is a `command` instance",
            ),
            (
                r#"params = { pattern = "empty" }"#,
                r#"params = { pattern = "blank" }"#,
                "pattern `blank` is not defined in the patterns of instance `passwd` (defined: \
                empty)",
            ),
            (
                "params = { allowed = [200, 204] }",
                r#"params = { allowed = [200, "ok"] }"#,
                r#"judgement `http_status`: invalid type: string "ok", expected u16"#,
            ),
            (
                r#"timezone = "Europe/Berlin""#,
                r#"timezone = "Mars/Olympus""#,
                "unknown time zone `Mars/Olympus` (use an IANA name such as `Europe/Berlin`, or \
                `UTC`)",
            ),
            (
                r#"schedule = "@daily""#,
                r#"schedule = "0 0 * * * *""#,
                "invalid schedule `0 0 * * * *`: expected 5 fields (minute hour day-of-month \
                month day-of-week), found 6",
            ),
            (
                "timeout_secs = 10",
                "timeout_secs = 0",
                "timeout_secs must be between 1 and 86400, not 0",
            ),
            (
                "max_age_hours = 1\n",
                "max_age_hours = 0\n",
                "max_age_hours must be between 1 and 87840, not 0",
            ),
            (
                r#"controls = ["PR.DS-2"]"#,
                r#"controls = ["PR.DS-1"]"#,
                "control `PR.DS-1` is not in the profile's scope",
            ),
            (
                r#"controls = ["PR.DS-2"]"#,
                r#"controls = ["PR.IP-5"]"#,
                "control `PR.IP-5` is not_applicable in [profile]",
            ),
            (
                r#"controls = ["PR.DS-2"]"#,
                "controls = []",
                "controls must list at least one control",
            ),
            (
                r#"controls = ["PR.DS-2"]"#,
                r#"controls = ["PR.DS"]"#,
                "`PR.DS` is a category of nist-csf-1.1, not a control; list its subcategories \
                instead",
            ),
            (
                r#"controls = ["PR.DS-2"]"#,
                r#"controls = ["pr.ds-2"]"#,
                "unknown control `pr.ds-2` in nist-csf-1.1; did you mean `PR.DS-2`?",
            ),
            (
                r#"justification = "no premises""#,
                r#"justification = " ""#,
                "justification must not be empty",
            ),
            (
                r#", justification = "no premises""#,
                "",
                "not_applicable `PR.IP-5` needs a justification",
            ),
            (
                r#"scope = ["PR.DS-2","#,
                r#"scope = ["PR.IP-5", "PR.DS-2","#,
                "control `PR.IP-5` is both in scope and not_applicable",
            ),
            (
                r#"expires = "2026-01-15""#,
                r#"expires = "2024-01-15""#,
                "expires (2024-01-15) is before the attestation's date (2025-01-15)",
            ),
            (
                r#"expires = "2026-06-30""#,
                r#"expires = "30.06.2026""#,
                "expires `30.06.2026` is not a date (expected YYYY-MM-DD)",
            ),
            (
                "date = 2025-01-15",
                "date = 2025-01-15T10:00:00",
                "date `2025-01-15T10:00:00` is not a date (expected YYYY-MM-DD)",
            ),
            (
                r#"sha256 = "9F86"#,
                r#"sha256 = "F86"#,
                "sha256 must be 64 hex characters, found 63 characters",
            ),
            (
                r#"params = { pattern = "empty" }"#,
                r#"params = { pattern = "empty", extra = 1 }"#,
                "judgement `file_lacks`: unknown field `extra`, expected `pattern`",
            ),
            (
                "expires = \"2026-06-30\"",
                "expires = \"2026-6-30\"",
                "expires `2026-6-30` is not a date (expected YYYY-MM-DD)",
            ),
            (
                "expires = \"2026-06-30\"",
                "expires = \"2026-02-30\"",
                "expires `2026-02-30` is not a date (expected YYYY-MM-DD)",
            ),
            (
                r#"path = "/etc/policy.md""#,
                r#"path = "policy.md""#,
                "document path must be absolute",
            ),
            (r#"signer = "Jana""#, r#"signer = """#, "signer must not be empty"),
            (
                r#"catalog = "nist-csf-1.1""#,
                "catalog = \"nist-csf-1.1\"\nlevel = 3",
                "unknown key `level` in [profile], expected one of catalog, scope, not_applicable",
            ),
            ("splay_secs = 120", "splay_secs = -1", "invalid value: integer `-1`, expected u64"),
        ];
        for (from, to, message) in cases {
            let text = valid_with(from, to);
            let found = errors(&text);
            // The error is on the last line of the replacement.
            let at = VALID.find(from).expect("mutation applies");
            let line = line_column(VALID, at).0 + to.trim_end().matches('\n').count();
            assert_eq!(found.len(), 1, "{to}: {found:?}");
            let (position, text) = found[0].split_once(": ").expect("position");
            assert_eq!(text, *message, "{to}");
            assert!(
                position.starts_with(&format!("{line}:")),
                "{to}: {position} not on line {line}"
            );
        }
    }

    #[test]
    fn param_errors_point_into_params() {
        let text = valid_with("paths = [\"/etc/passwd\"]", "paths = [\"/etc/passwd\", \"passwd\"]");
        let found = errors(&text);
        assert_eq!(
            found,
            [format!(
                "{}:{}: params.paths[1]: passwd is not an absolute path",
                line_of(&text, "\"passwd\"]"),
                text.lines()
                    .find(|l| l.contains("\"passwd\"]"))
                    .and_then(|l| l.find("\"passwd\""))
                    .map(|c| c + 1)
                    .unwrap_or(0)
            )]
        );
        let unknown =
            valid_with("argv = [\"uname\", \"-r\"]", "argv = [\"uname\", \"-r\"]\nshell = true");
        assert_eq!(
            errors(&unknown),
            [format!(
                "{}:1: params: unknown field `shell`, expected one of `argv`, `max_output_bytes`, \
                 `regex`, `json`, `env`, `cwd`",
                line_of(&unknown, "shell = true")
            )]
        );
    }

    #[test]
    fn judgement_values_are_checked() {
        let text = VALID.replace(
            "judgement = \"exists\"\n",
            "judgement = \"sha256_pinned\"\nparams = { sha256 = \"abc\" }\n",
        );
        let line = line_of(&text, "sha256 = \"abc\"");
        assert_eq!(
            errors(&text),
            [format!(
                "{line}:21: params.sha256: sha256 must be 64 hex characters, found 3 characters"
            )]
        );
        let text = VALID.replace(
            "judgement = \"http_status\"\nparams = { allowed = [200, 204] }",
            "judgement = \"fact_equals\"\nparams = { pointer = \"status\", value = 200 }",
        );
        let line = line_of(&text, "pointer = \"status\"");
        assert_eq!(
            errors(&text),
            [format!(
                "{line}:22: params.pointer: `status` is not a JSON pointer (it must start with `/`)"
            )]
        );
    }

    #[test]
    fn a_publish_dir_that_is_a_file_is_an_error_at_its_position() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").expect("write");
        let text = format!(
            "[agent]\npublish_dir = \"{}\"\n\n[profile]\ncatalog = \"nist-csf-1.1\"\n",
            file.display()
        );
        let expected =
            format!("2:15: publish_dir {} exists and is not a directory", file.display());
        assert_eq!(errors(&text), [expected]);
    }

    #[test]
    fn an_unknown_parameter_does_not_hide_the_other_mistakes_of_the_params() {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
            [[instance]]\nname = \"a\"\ncollector = \"file\"\nschedule = \"@daily\"\n\
            params = { paths = [\"relative/x\"], bogus = 1, max_bytes = \"big\" }\n";
        assert_eq!(
            errors(text),
            [
                "9:21: params.paths[0]: relative/x is not an absolute path",
                "9:36: params: unknown field `bogus`, expected one of `paths`, `patterns`, \
                 `reviewed_pattern`, `max_bytes`, `content`",
                "9:59: params: invalid type: string \"big\", expected u64",
            ]
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_does_not_hide_the_other_mistakes_of_its_entry() {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-1\"]\n\n\
            [[instance]]\nname = \"a\"\ncollector = \"file\"\nschedule = \"61 * * * *\"\n\
            timeout_secs = -5\nsplay_secs = \"ten\"\n\
            params = { paths = [\"/etc/hostname\"], bogus = 1 }\n";
        let found = errors(text);
        let lines: Vec<&str> = found.iter().map(|e| e.split(':').next().unwrap_or("")).collect();
        assert_eq!(lines, ["8", "9", "10", "11"], "{found:#?}");
        assert!(found[0].contains("minute field `61`"), "{found:#?}");
        assert!(found[1].contains("integer `-5`, expected u64"), "{found:#?}");
        assert!(found[2].contains("string \"ten\", expected u64"), "{found:#?}");
        assert!(found[3].contains("unknown field `bogus`"), "{found:#?}");
        // A required key of the wrong type is reported once, without a derived "missing"; the
        // entry's other type errors still are, its semantic checks need the entry and are not.
        let text = text.replace("name = \"a\"", "name = 7");
        let found = errors(&text);
        let lines: Vec<&str> = found.iter().map(|e| e.split(':').next().unwrap_or("")).collect();
        assert_eq!(lines, ["6", "9", "10"], "{found:#?}");
        assert!(found[0].starts_with("6:8: invalid type: integer `7`"), "{found:#?}");
        assert!(!found.iter().any(|e| e.contains("missing field")), "{found:#?}");
    }

    #[test]
    fn a_bad_time_zone_does_not_hide_a_bad_schedule() {
        let text = valid_with("timezone = \"Europe/Berlin\"", "timezone = \"Nowhere\"")
            .replace("schedule = \"@daily\"", "schedule = \"@often\"");
        let found = errors(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].ends_with(
            "unknown shorthand `@often` (known: @hourly, @daily, @weekly, @monthly, @yearly)"
        ));
        assert!(found[1].ends_with(
            "unknown time zone `Nowhere` (use an IANA name such as `Europe/Berlin`, or `UTC`)"
        ));
    }

    #[test]
    fn a_missing_profile_is_an_error() {
        assert_eq!(
            errors("[agent]\nmax_concurrent_runs = 2\n"),
            ["1:1: missing [profile] section (catalog = \"nist-csf-1.1\" or \"nist-csf-2.0\")"]
        );
        assert_eq!(errors("[profile]\nscope = []\n"), ["1:1: missing field `catalog`"]);
        assert_eq!(
            errors("[profile]\ncatalog = \"nist-csf-1.1\"\nscope = []\n"),
            ["3:9: scope must list at least one control (leave it out for all of them)"]
        );
    }

    #[test]
    fn agent_settings_are_checked() {
        let text = "[agent]\nstate_dir = \"state\"\nmax_concurrent_runs = 0\nmax_read_bytes = 0\n\
                    threads = 2\n[profile]\ncatalog = \"nist-csf-1.1\"\n";
        assert_eq!(
            errors(text),
            [
                "2:13: state_dir must be an absolute path",
                "3:23: max_concurrent_runs must be between 1 and 1024, not 0",
                "4:18: max_read_bytes must be at least 1",
                "5:1: unknown key `threads` in [agent], expected one of state_dir, \
                 publish_dir, webhooks, webhook_expiry_lead_hours, max_concurrent_runs, \
                 max_read_bytes",
            ]
        );
        let text = "[agent]\nstate_dir = \"/srv/beweis\"\nmax_concurrent_runs = 8\n\
                    [profile]\ncatalog = \"nist-csf-1.1\"\n";
        let agent = parse(text).agent;
        assert_eq!(agent.state_dir, Some(PathBuf::from("/srv/beweis")));
        assert_eq!(agent.max_concurrent_runs, 8);
    }

    #[test]
    fn sections_of_the_wrong_shape_are_named() {
        let text = "[profile]\ncatalog = \"nist-csf-1.1\"\n[instance]\nname = \"x\"\n";
        assert_eq!(
            errors(text),
            ["3:2: `instance` must be an array of tables, written [[instance]]"]
        );
        let text = "agent = 3\n[profile]\ncatalog = \"nist-csf-1.1\"\n";
        assert_eq!(errors(text), ["1:1: `agent` must be a table, written [agent]"]);
    }

    #[test]
    fn without_scope_every_control_but_the_excluded_is_in_scope() {
        let text = "[profile]\ncatalog = \"nist-csf-2.0\"\n\
                    not_applicable = [{ control = \"GV.OC-01\", justification = \"n/a\" }]\n";
        let config = parse(text);
        assert_eq!(config.profile.scope.len(), 105);
        assert_eq!(config.profile.scope[0].0, "GV.OC-02");
    }

    #[test]
    fn inline_arrays_of_tables_work_like_double_brackets() {
        let text = "instance = [{ name = \"f\", collector = \"file\", schedule = \"@daily\", \
                    params = { paths = [\"/etc/hostname\"] } }]\n\
                    [profile]\ncatalog = \"nist-csf-1.1\"\nscope = [\"ID.AM-2\"]\n";
        assert_eq!(parse(text).instances[0].name, "f");
    }

    #[test]
    fn embedded_default_and_example_parse() {
        let config = parse_str(EMBEDDED_DEFAULT, EMBEDDED_SOURCE).expect("embedded default parses");
        assert_eq!(config.profile.catalog, CatalogId::Csf11);
        let scope: Vec<&str> = config.profile.scope.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(scope, ["ID.AM-2", "PR.AC-1", "PR.AC-3", "PR.AC-4", "PR.IP-1"]);
        for control in &config.profile.scope {
            assert!(
                config.checks.iter().any(|c| c.controls.contains(control)),
                "{control} in scope but proven by no check"
            );
        }
        let example = include_str!("../../config/examples/minimal.toml");
        let config = parse_str(example, "minimal.toml").expect("example parses");
        assert_eq!(config.instances.len(), 3);
        assert_eq!(config.attestations.len(), 1);
        assert_eq!(config.inherited.len(), 1);
    }

    #[test]
    fn load_reads_the_given_file_and_refuses_a_missing_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("beweis.toml");
        std::fs::write(&path, VALID).expect("write config");
        let config = load(Some(&path)).expect("config loads");
        assert_eq!(config.source, path.display().to_string());
        let missing = dir.path().join("missing.toml");
        let err = load(Some(&missing)).expect_err("missing file");
        assert_eq!(err.to_string(), format!("{}: no such file", missing.display()));
    }

    #[test]
    fn struct_fields_lists_the_keys() {
        assert_eq!(struct_fields::<DocumentConfig>(), ["path", "sha256"]);
        assert_eq!(struct_fields::<NotApplicableConfig>(), ["control", "justification"]);
    }

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nü = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.find('=').expect("=")), (1, 3));
        let second = text.rfind('=').expect("second =");
        assert_eq!(line_column(text, second), (2, 3));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }
}
