//! The `firewall` collector: what is actually reachable from outside, IPv4 and IPv6.
//!
//! It reads every firewall layer it is configured for — nftables (`nft -j list ruleset`),
//! iptables and ip6tables on both the nf_tables and the legacy backend (both may be loaded at
//! once), `ufw status verbose` — into one normalised model (`model`), evaluates which NEW
//! inbound TCP/UDP connections each family lets in the way the kernel does (`eval`), joins
//! that with the listening sockets of the namespace it runs in (`sockets`), and reports the
//! conclusions as facts (`report`). A layer it cannot read never turns into "nothing exposed":
//! a missing capability is a permission failure; a configured or enabled layer (backend, ufw,
//! cloud firewall) whose tool is missing, fails, or prints what cannot be parsed, and a
//! mismatched backend, make the result `indeterminate` with a reason naming the layer and the
//! tool (see [`unread`]).
//!
//! It does not judge (checks compare the facts with allow-lists and limits) and keeps no state
//! of its own: a ruleset change is an event (`history`) computed against the previous
//! observation the runner hands in (`Context::previous`). Neighbours: the contract in the
//! crate root.

mod cloud;
mod eval;
mod history;
mod model;
mod nft;
mod nft_text;
mod report;
mod run;
mod sockets;
mod ufw;
mod xtables;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::{Collection, Context, Custody, FailureKind, Observation, ParamError};

use model::{Backend, Family, Proto, Ranges, Ruleset};
use run::{Ran, RunError};

/// The subject every firewall observation is about.
pub const SUBJECT: &str = "firewall";

/// Ports that must never be open to the world by default: remote administration and
/// databases/caches without authentication by default.
pub const DEFAULT_ADMIN_PORTS: [u16; 20] = [
    22, 23, 2375, 2376, 3389, 5900, 3306, 5432, 6379, 9200, 9300, 11211, 27017, 5984, 8086, 9042,
    1433, 1521, 2379, 10250,
];

/// Raw parameters of a `firewall` instance.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallConfig {
    /// Which backends to read: `nftables`, `iptables_nft`, `iptables_legacy`; default all.
    /// The tools of a reader named here, or whose program is set below, must exist: a missing
    /// one makes the result `indeterminate`. With the defaults a missing tool is `unavailable`
    /// (except legacy with its x_tables module loaded: rules may be there, so `indeterminate`).
    pub readers: Option<Vec<String>>,
    /// The `nft` program; default `nft` from the tool PATH.
    pub nft: Option<String>,
    /// `iptables-nft-save`; default from the tool PATH.
    pub iptables_nft_save: Option<String>,
    /// `ip6tables-nft-save`; default from the tool PATH.
    pub ip6tables_nft_save: Option<String>,
    /// `iptables-legacy-save`; default from the tool PATH.
    pub iptables_legacy_save: Option<String>,
    /// `ip6tables-legacy-save`; default from the tool PATH.
    pub ip6tables_legacy_save: Option<String>,
    /// The `ufw` program; when set, `ufw status verbose` is read and its rows are compared
    /// with the evaluated exposure. A ufw that is missing, fails or prints no `Status:` line
    /// is recorded as `ufw.state: failed` and makes the result `indeterminate`.
    pub ufw: Option<String>,
    /// Exposure the operator expects, e.g. `["tcp/22", "tcp/443", "udp/60000-61000"]`;
    /// anything else exposed is listed under `unexpected_exposed`.
    #[serde(default)]
    pub allowed_exposed: Vec<String>,
    /// Administrative and database ports; default [`DEFAULT_ADMIN_PORTS`].
    pub admin_ports: Option<Vec<u16>>,
    /// Seconds each tool may run; default 20, never more than the run's timeout.
    pub tool_timeout_secs: Option<u64>,
    /// The Hetzner Cloud Firewall in front of this server, if any.
    pub hetzner: Option<HetznerConfig>,
}

/// Where to read the Hetzner Cloud Firewall of this server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HetznerConfig {
    /// The API base URL; default the public API. Plain `http` only to loopback (tests).
    pub api_url: Option<String>,
    /// Absolute path of a file holding the API token (read-only token suffices).
    pub token_file: String,
    /// The server id of this host.
    pub server_id: u64,
}

/// A backend reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reader {
    /// `nft -j list ruleset`.
    Nftables,
    /// `iptables-nft-save`, `ip6tables-nft-save`.
    IptablesNft,
    /// `iptables-legacy-save`, `ip6tables-legacy-save`.
    IptablesLegacy,
}

impl Reader {
    fn parse(name: &str) -> Option<Reader> {
        match name {
            "nftables" => Some(Reader::Nftables),
            "iptables_nft" => Some(Reader::IptablesNft),
            "iptables_legacy" => Some(Reader::IptablesLegacy),
            _ => None,
        }
    }
}

/// Validated settings of a `firewall` instance.
#[derive(Debug, Clone)]
pub struct FirewallSettings {
    readers: BTreeSet<Reader>,
    /// Readers named in `readers` or with a configured program: their tool must exist.
    required: BTreeSet<Reader>,
    programs: Programs,
    ufw: Option<String>,
    allowed: Vec<(Proto, Ranges)>,
    admin_ports: Vec<u16>,
    tool_timeout: Duration,
    hetzner: Option<cloud::CloudSettings>,
}

#[derive(Debug, Clone)]
struct Programs {
    nft: String,
    save: BTreeMap<(Reader, Family), String>,
}

impl FirewallConfig {
    /// Checks every parameter and returns the validated settings.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its key (e.g. `allowed_exposed[1]`).
    pub fn validate(self) -> Result<FirewallSettings, Vec<ParamError>> {
        let mut errors = Vec::new();
        let required = self.required();
        let readers = match &self.readers {
            None => BTreeSet::from([Reader::Nftables, Reader::IptablesNft, Reader::IptablesLegacy]),
            Some(names) => validate_readers(names, &mut errors),
        };
        let program = |key: &str,
                       value: Option<String>,
                       default: &str,
                       errors: &mut Vec<ParamError>| {
            let value = value.unwrap_or_else(|| default.to_string());
            if value.is_empty() || (value.contains('/') && !value.starts_with('/')) {
                errors
                    .push(ParamError::new(key, "must be an absolute path or a bare program name"));
            }
            value
        };
        let nft = program("nft", self.nft, "nft", &mut errors);
        let mut save = BTreeMap::new();
        for (key, value, default, reader, family) in [
            (
                "iptables_nft_save",
                self.iptables_nft_save,
                "iptables-nft-save",
                Reader::IptablesNft,
                Family::Ipv4,
            ),
            (
                "ip6tables_nft_save",
                self.ip6tables_nft_save,
                "ip6tables-nft-save",
                Reader::IptablesNft,
                Family::Ipv6,
            ),
            (
                "iptables_legacy_save",
                self.iptables_legacy_save,
                "iptables-legacy-save",
                Reader::IptablesLegacy,
                Family::Ipv4,
            ),
            (
                "ip6tables_legacy_save",
                self.ip6tables_legacy_save,
                "ip6tables-legacy-save",
                Reader::IptablesLegacy,
                Family::Ipv6,
            ),
        ] {
            save.insert((reader, family), program(key, value, default, &mut errors));
        }
        let ufw = self.ufw.map(|value| program("ufw", Some(value), "ufw", &mut errors));
        let allowed = validate_allowed(&self.allowed_exposed, &mut errors);
        if self.tool_timeout_secs == Some(0) {
            errors.push(ParamError::new("tool_timeout_secs", "must be greater than 0"));
        }
        let hetzner = self.hetzner.map(|config| validate_hetzner(config, &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(FirewallSettings {
            hetzner,
            readers,
            required,
            programs: Programs { nft, save },
            ufw,
            allowed,
            admin_ports: self.admin_ports.unwrap_or_else(|| DEFAULT_ADMIN_PORTS.to_vec()),
            tool_timeout: Duration::from_secs(self.tool_timeout_secs.unwrap_or(20)),
        })
    }
}

impl FirewallConfig {
    /// Readers the operator asked for by name or by program: a missing tool is not "absent".
    fn required(&self) -> BTreeSet<Reader> {
        let mut required: BTreeSet<Reader> =
            self.readers.iter().flatten().filter_map(|name| Reader::parse(name)).collect();
        if self.nft.is_some() {
            required.insert(Reader::Nftables);
        }
        if self.iptables_nft_save.is_some() || self.ip6tables_nft_save.is_some() {
            required.insert(Reader::IptablesNft);
        }
        if self.iptables_legacy_save.is_some() || self.ip6tables_legacy_save.is_some() {
            required.insert(Reader::IptablesLegacy);
        }
        required
    }
}

fn validate_hetzner(config: HetznerConfig, errors: &mut Vec<ParamError>) -> cloud::CloudSettings {
    let api_url = config.api_url.unwrap_or_else(|| cloud::DEFAULT_API_URL.to_string());
    let api_url = api_url.trim_end_matches('/').to_string();
    let loopback = ["http://127.0.0.1:", "http://[::1]:", "http://localhost:"];
    if !api_url.starts_with("https://") && !loopback.iter().any(|p| api_url.starts_with(p)) {
        errors.push(ParamError::new(
            "hetzner.api_url",
            "must be https (plain http only to loopback)",
        ));
    }
    if !config.token_file.starts_with('/') {
        errors.push(ParamError::new("hetzner.token_file", "must be an absolute path"));
    }
    cloud::CloudSettings { api_url, token_file: config.token_file, server_id: config.server_id }
}

fn validate_readers(names: &[String], errors: &mut Vec<ParamError>) -> BTreeSet<Reader> {
    let mut readers = BTreeSet::new();
    for (index, name) in names.iter().enumerate() {
        match Reader::parse(name) {
            Some(reader) => {
                readers.insert(reader);
            }
            None => errors.push(ParamError::new(
                format!("readers[{index}]"),
                format!(
                    "unknown reader {name}; expected nftables, iptables_nft or iptables_legacy"
                ),
            )),
        }
    }
    if readers.is_empty() && errors.is_empty() {
        errors.push(ParamError::new("readers", "must name at least one reader"));
    }
    readers
}

/// `tcp/22`, `udp/60000-61000`, `tcp/60000:61000`.
fn validate_allowed(entries: &[String], errors: &mut Vec<ParamError>) -> Vec<(Proto, Ranges)> {
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let parsed = entry.split_once('/').and_then(|(proto, ports)| {
            let proto = Proto::ALL.into_iter().find(|p| p.as_str() == proto)?;
            Some((proto, xtables::port_list(ports)?))
        });
        match parsed {
            Some(parsed) => out.push(parsed),
            None => errors.push(ParamError::new(
                format!("allowed_exposed[{index}]"),
                format!("{entry} is not <tcp|udp>/<port>[-<port>]"),
            )),
        }
    }
    out
}

/// Reads every configured layer, evaluates the exposure, and reports one observation about
/// [`SUBJECT`]; or one failure when a layer cannot be read for lack of privilege, in time, or
/// at all.
pub async fn collect(settings: &FirewallSettings, ctx: &Context) -> Collection {
    let started = Instant::now();
    let mut collection = Collection::default();
    match read_all(settings, ctx).await {
        Ok(reads) => {
            let facts = report::facts(settings, &reads, ctx.previous.get(SUBJECT));
            let custody = custody(&reads, started.elapsed());
            collection.observations.push(Observation {
                subject: SUBJECT.to_string(),
                collected_at: ctx.now,
                effective_at: None,
                facts,
                custody,
            });
        }
        Err((kind, message)) => collection.fail(SUBJECT, kind, message),
    }
    collection
}

/// What one backend read gave.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackendRead {
    /// `read`, `read_text_fallback`, `unavailable`, `not_loaded` (legacy x_tables),
    /// `not_configured`, `failed`.
    state: &'static str,
    /// Tables seen, as `family name`.
    tables: Vec<String>,
    /// Rules seen.
    rules: usize,
    /// Whether it held nothing that filters.
    empty: bool,
    /// Why it failed or fell back.
    note: Option<String>,
}

/// Everything read, for the report.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    ruleset: Ruleset,
    backends: BTreeMap<&'static str, BackendRead>,
    indeterminate: Vec<String>,
    runs: Vec<Ran>,
    nft_version: Option<String>,
    ipv6: Ipv6State,
    sockets: sockets::SocketsRead,
    /// ufw, when configured: its status, or why it could not be read.
    ufw: Option<Result<ufw::UfwStatus, String>>,
    /// Why an outer layer (ufw, cloud firewall) was not read; the host evaluation stands.
    outer_unread: Vec<String>,
    /// The cloud layer, when configured: what it allows, or why it could not be read.
    cloud: Option<Result<cloud::CloudLayer, String>>,
}

/// Whether IPv6 packets can reach the host at all.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ipv6State {
    /// Why IPv6 does not apply, if it does not.
    not_applicable: Option<String>,
}

type Failure = (FailureKind, String);

/// The capabilities a reader needs, for permission messages.
const CAPABILITY_HINT: &str =
    "needs CAP_NET_ADMIN (iptables-legacy also CAP_NET_RAW and CAP_DAC_READ_SEARCH)";

async fn read_all(settings: &FirewallSettings, ctx: &Context) -> Result<Reads, Failure> {
    let mut reads = Reads::default();
    // iptables-nft's tables are nf_tables tables too: both readers see them. Each table is
    // taken from one reader only (see `reconcile`).
    let mut iptables_nft = XtablesRead::default();
    for reader in [Reader::IptablesLegacy, Reader::IptablesNft] {
        if settings.readers.contains(&reader) {
            read_xtables(settings, ctx, reader, &mut reads, &mut iptables_nft).await?;
        } else {
            let read = BackendRead { state: "not_configured", ..BackendRead::default() };
            reads.backends.insert(backend_of(reader).as_str(), read);
        }
    }
    if settings.readers.contains(&Reader::Nftables) {
        let xt_tables = read_nft(settings, ctx, &iptables_nft.tables, &mut reads).await?;
        reconcile(&mut reads.ruleset, &mut iptables_nft, xt_tables.as_ref());
        reads.ruleset.merge(iptables_nft.ruleset);
    } else {
        reads.ruleset.merge(iptables_nft.ruleset);
        reads
            .backends
            .insert("nftables", BackendRead { state: "not_configured", ..BackendRead::default() });
        probe_unread_nft(settings, ctx, &mut reads).await;
    }
    let read_any = reads.backends.values().any(|b| b.state.starts_with("read"));
    if !read_any {
        // No tool could read the kernel's rules; rules may still be loaded.
        reads.indeterminate.push("no firewall tool was available to read the ruleset".into());
    }
    match ipv6_state().await {
        Ok(state) => reads.ipv6 = state,
        Err(why) => reads.indeterminate.push(why),
    }
    reads.sockets = sockets::read(timeout_of(settings, ctx)).await;
    if let Some(why) = &reads.sockets.error {
        // Listeners unknown: the join with them is left out, and the result is not `ok`.
        reads.outer_unread.push(format!("sockets not read: {why}"));
    }
    if let Some(program) = &settings.ufw {
        let ufw = read_ufw(program, settings, ctx, &mut reads).await?;
        if let Err(why) = &ufw {
            reads.outer_unread.push(format!("ufw not read: {why}"));
        }
        reads.ufw = Some(ufw);
    }
    if let Some(hetzner) = &settings.hetzner {
        let cloud = cloud::fetch(hetzner, ctx, timeout_of(settings, ctx)).await;
        if let Err(why) = &cloud {
            let reason =
                format!("cloud firewall not read (hetzner api {}): {why}", hetzner.api_url);
            reads.outer_unread.push(reason);
        }
        reads.cloud = Some(cloud);
    }
    Ok(reads)
}

/// Records that a configured or enabled host layer was not read: the reason names the layer
/// and the tool, and makes the whole result `indeterminate` (nothing is concluded from it).
fn unread(reads: &mut Reads, layer: &str, why: &str) -> String {
    let reason = format!("{layer} not read: {why}");
    reads.indeterminate.push(reason.clone());
    reason
}

fn backend_of(reader: Reader) -> Backend {
    match reader {
        Reader::Nftables => Backend::Nftables,
        Reader::IptablesNft => Backend::IptablesNft,
        Reader::IptablesLegacy => Backend::IptablesLegacy,
    }
}

fn timeout_of(settings: &FirewallSettings, ctx: &Context) -> Duration {
    settings.tool_timeout.min(ctx.timeout)
}

/// Runs a tool; a denial, a timeout or a cancellation ends the whole collection.
async fn run_tool(
    argv: Vec<String>,
    settings: &FirewallSettings,
    ctx: &Context,
) -> Result<Option<Ran>, Failure> {
    match run::run(&argv, ctx, timeout_of(settings, ctx)).await {
        Ok(ran) if ran.denied() => {
            let message = format!("{CAPABILITY_HINT}: {}: {}", argv.join(" "), ran.error_line());
            Err((FailureKind::Permission, message))
        }
        Ok(ran) => Ok(Some(ran)),
        Err(RunError::NotFound(_)) => Ok(None),
        Err(error @ RunError::Permission(_)) => Err((FailureKind::Permission, error.to_string())),
        Err(error @ RunError::Timeout(_)) => Err((FailureKind::Timeout, error.to_string())),
        Err(error @ RunError::Cancelled(_)) => Err((FailureKind::Cancelled, error.to_string())),
        Err(error @ RunError::Other(..)) => Err((FailureKind::Other, error.to_string())),
    }
}

/// What iptables-nft read, kept apart until it is reconciled with nft's view.
#[derive(Debug, Default)]
struct XtablesRead {
    ruleset: Ruleset,
    /// `(family, table)` pairs iptables-nft listed.
    tables: BTreeSet<(String, String)>,
}

/// Takes each table iptables-nft listed from one reader: from iptables-nft when nft shows it
/// with compat (`xt`) expressions nft cannot show, else from nft (iptables-nft silently drops
/// native expressions it cannot translate, e.g. anonymous sets). Without an nft reading,
/// everything iptables-nft read is used.
// FIXME(firewall-mixed-tables): a table mixing compat and native-only expressions is taken
// from iptables-nft, which drops the native ones it cannot translate.
fn reconcile(
    nft: &mut Ruleset,
    iptables_nft: &mut XtablesRead,
    xt_tables: Option<&BTreeSet<(String, String)>>,
) {
    let Some(xt_tables) = xt_tables else { return };
    for (family, table) in &iptables_nft.tables {
        if xt_tables.contains(&(family.clone(), table.clone())) {
            nft.remove_table(Backend::Nftables, family, table);
        } else {
            iptables_nft.ruleset.remove_table(Backend::IptablesNft, family, table);
        }
    }
}

async fn read_xtables(
    settings: &FirewallSettings,
    ctx: &Context,
    reader: Reader,
    reads: &mut Reads,
    iptables_nft: &mut XtablesRead,
) -> Result<(), Failure> {
    let backend = backend_of(reader);
    let mut read = BackendRead { state: "read", empty: true, ..BackendRead::default() };
    let mut found = false;
    for family in Family::ALL {
        if reader == Reader::IptablesLegacy && !legacy_loaded(family).await {
            // x_tables is not loaded: there is nothing to read, and running the tool could
            // load the kernel module as a side effect.
            continue;
        }
        let program = settings.programs.save.get(&(reader, family)).cloned().unwrap_or_default();
        let Some(ran) = run_tool(vec![program.clone()], settings, ctx).await? else {
            // A legacy table module is loaded, or the reader was asked for: rules may be there.
            if reader == Reader::IptablesLegacy || settings.required.contains(&reader) {
                let why = format!("{program}: not found");
                read.note = Some(unread(reads, backend.as_str(), &why));
                read.state = "unavailable";
                found = true;
            }
            continue;
        };
        found = true;
        if !ran.success() {
            let why = format!("{program} failed: {}", ran.error_line());
            read.note = Some(unread(reads, backend.as_str(), &why));
            read.state = "failed";
            reads.runs.push(ran);
            continue;
        }
        let (ruleset, summary) = xtables::parse(&ran.stdout, family, backend);
        let fam = if family == Family::Ipv4 { "ip" } else { "ip6" };
        read.tables.extend(summary.tables.iter().map(|t| format!("{fam} {t}")));
        read.rules += summary.rules;
        read.empty &= summary.is_empty();
        reads.indeterminate.extend(ruleset.unreadable.iter().cloned());
        if reader == Reader::IptablesNft {
            let tables = summary.tables.iter().map(|t| (fam.to_string(), t.clone()));
            iptables_nft.tables.extend(tables);
            iptables_nft.ruleset.merge(ruleset);
        } else {
            reads.ruleset.merge(ruleset);
        }
        reads.runs.push(ran);
    }
    if !found {
        read.state = if reader == Reader::IptablesLegacy { "not_loaded" } else { "unavailable" };
    }
    reads.backends.insert(backend.as_str(), read);
    Ok(())
}

/// Whether the legacy x_tables module of `family` is loaded (its names file exists; reading
/// it needs privileges, seeing it does not).
async fn legacy_loaded(family: Family) -> bool {
    let path = match family {
        Family::Ipv4 => "/proc/net/ip_tables_names",
        Family::Ipv6 => "/proc/net/ip6_tables_names",
    };
    tokio::fs::symlink_metadata(path).await.is_ok()
}

/// Reads nft's view of every table; returns the tables with compat expressions, or `None`
/// when nothing could be read. Tables iptables-nft listed (`iptables_tables`) are reported
/// under that backend, not here.
async fn read_nft(
    settings: &FirewallSettings,
    ctx: &Context,
    iptables_tables: &BTreeSet<(String, String)>,
    reads: &mut Reads,
) -> Result<Option<BTreeSet<(String, String)>>, Failure> {
    let skip = BTreeSet::new();
    let skip = &skip;
    let argv = vec![settings.programs.nft.clone(), "-j".into(), "list".into(), "ruleset".into()];
    let Some(ran) = run_tool(argv, settings, ctx).await? else {
        let note = settings
            .required
            .contains(&Reader::Nftables)
            .then(|| unread(reads, "nftables", &format!("{}: not found", settings.programs.nft)));
        let read = BackendRead { state: "unavailable", note, ..BackendRead::default() };
        reads.backends.insert("nftables", read);
        return Ok(None);
    };
    let mut state = "read";
    let mut note = None;
    let mut parsed = if ran.success() {
        nft::parse(&ran.stdout, skip).map_err(|e| e.to_string())
    } else {
        Err(format!("{} -j failed: {}", settings.programs.nft, ran.error_line()))
    };
    reads.runs.push(ran);
    if let Err(why) = &parsed {
        if let Some(text) = read_nft_text(settings, ctx, reads).await? {
            state = "read_text_fallback";
            note = Some(format!("{why}; read `nft list ruleset` text instead"));
            parsed = match nft_text::check(&text) {
                Ok(()) => {
                    nft::parse_value(&nft_text::to_json(&text), skip).map_err(|e| e.to_string())
                }
                Err(bad) => {
                    Err(format!("{why}; `{} list ruleset` text: {bad}", settings.programs.nft))
                }
            };
        }
    }
    let (read, xt_tables) = match parsed {
        Ok((ruleset, summary)) => {
            let own = |table: &String| {
                let (family, name) = table.split_once(' ').unwrap_or(("", table));
                !iptables_tables.contains(&(family.to_string(), name.to_string()))
            };
            let tables: Vec<String> = summary.tables.iter().filter(|t| own(t)).cloned().collect();
            let read = BackendRead {
                state,
                empty: tables.is_empty(),
                tables,
                rules: ruleset
                    .chains
                    .iter()
                    .filter(|(key, _)| {
                        let mut parts = key.splitn(4, '/').skip(1);
                        let (family, table) = (parts.next(), parts.next());
                        own(&format!("{} {}", family.unwrap_or(""), table.unwrap_or("")))
                    })
                    .map(|(_, chain)| chain.rules.len())
                    .sum(),
                note,
            };
            reads.nft_version = summary.version;
            reads.ruleset.merge(ruleset);
            (read, Some(summary.xt_tables))
        }
        Err(why) => {
            let note = unread(reads, "nftables", &format!("{why}; ruleset unknown"));
            (BackendRead { state: "failed", note: Some(note), ..BackendRead::default() }, None)
        }
    };
    reads.backends.insert("nftables", read);
    Ok(xt_tables)
}

/// `nft list ruleset` as text, when JSON failed; `None` if that fails too.
async fn read_nft_text(
    settings: &FirewallSettings,
    ctx: &Context,
    reads: &mut Reads,
) -> Result<Option<String>, Failure> {
    let argv = vec![settings.programs.nft.clone(), "list".into(), "ruleset".into()];
    let Some(ran) = run_tool(argv, settings, ctx).await? else { return Ok(None) };
    let text = ran.success().then(|| ran.stdout.clone());
    reads.runs.push(ran);
    Ok(text)
}

/// Without the nftables reader, checks whether nf_tables holds tables nobody read.
// FIXME(firewall-probe-unread): when `nft list tables` is missing or fails, the probe is
// skipped silently; a mismatch then goes unnoticed (the result should say it was not checked).
async fn probe_unread_nft(settings: &FirewallSettings, ctx: &Context, reads: &mut Reads) {
    let argv = vec![settings.programs.nft.clone(), "list".into(), "tables".into()];
    let Ok(ran) = run::run(&argv, ctx, timeout_of(settings, ctx)).await else { return };
    if !ran.success() {
        return;
    }
    let read_by_iptables_nft = settings.readers.contains(&Reader::IptablesNft);
    let xtables_names = ["filter", "nat", "mangle", "raw", "security"];
    let unread: Vec<String> = ran
        .stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("table "))
        .filter(|table| {
            let mut parts = table.split_whitespace();
            let (family, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let iptables_table = matches!(family, "ip" | "ip6") && xtables_names.contains(&name);
            !(read_by_iptables_nft && iptables_table)
        })
        .map(str::to_string)
        .collect();
    if !unread.is_empty() {
        reads.indeterminate.push(format!(
            "backend mismatch: nf_tables holds tables the configured readers do not read: {}",
            unread.join(", ")
        ));
    }
}

/// Whether IPv6 applies: not when the kernel has none, is disabled with no address left, or
/// has no address outside loopback. A hidden `/proc` (e.g. `ProcSubset=pid`) is an error,
/// never "IPv6 not available".
async fn ipv6_state() -> Result<Ipv6State, String> {
    let disabled = "/proc/sys/net/ipv6/conf/all/disable_ipv6";
    let disabled = match sockets::read_proc_table(disabled).await? {
        Some(value) => value.trim() == "1",
        None if sockets::exists("/proc/sys/net/ipv4").await => {
            return Ok(Ipv6State {
                not_applicable: Some("ipv6 not available in the kernel".into()),
            })
        }
        None => return Err(format!("{disabled} and /proc/sys/net/ipv4 are hidden; ipv6 unknown")),
    };
    let addresses = "/proc/net/if_inet6";
    let Some(addresses) = sockets::read_proc_table(addresses).await? else {
        return Err(format!("{addresses} is hidden although the kernel has ipv6; ipv6 unknown"));
    };
    let outside_lo =
        addresses.lines().any(|line| line.split_whitespace().last().is_some_and(|dev| dev != "lo"));
    let not_applicable = match (disabled, outside_lo) {
        (_, true) => None,
        (true, false) => Some("ipv6 disabled".to_string()),
        (false, false) => Some("no ipv6 address outside loopback".to_string()),
    };
    Ok(Ipv6State { not_applicable })
}

/// `ufw status verbose`; the inner error says why it could not be read (missing, failed,
/// output without a `Status:` line).
async fn read_ufw(
    program: &str,
    settings: &FirewallSettings,
    ctx: &Context,
    reads: &mut Reads,
) -> Result<Result<ufw::UfwStatus, String>, Failure> {
    let argv = vec![program.to_string(), "status".into(), "verbose".into()];
    let Some(ran) = run_tool(argv, settings, ctx).await? else {
        return Ok(Err(format!("{program}: not found")));
    };
    let status = if !ran.success() {
        Err(format!("{program} status verbose failed: {}", ran.error_line()))
    } else if !ran.stdout.lines().any(|line| line.trim().starts_with("Status:")) {
        Err(format!("{program} status verbose printed no `Status:` line"))
    } else {
        Ok(ufw::parse(&ran.stdout))
    };
    reads.runs.push(ran);
    Ok(status)
}

fn custody(reads: &Reads, elapsed: Duration) -> Custody {
    let primary =
        reads.runs.iter().find(|ran| ran.argv.iter().any(|a| a == "-j")).or(reads.runs.first());
    Custody {
        argv: primary.map(|ran| ran.argv.clone()),
        exit_code: primary.and_then(|ran| ran.code),
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        tool_version: reads.nft_version.as_ref().map(|v| format!("nftables {v}")),
    }
}
