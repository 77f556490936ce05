//! Version order per ecosystem: SemVer 2 (crates.io, npm, Go), PEP 440 (PyPI), PHP
//! `version_compare` (Packagist) and `Gem::Version` (RubyGems).
//!
//! Owns parsing a version string into a comparable key and the total order on keys of one
//! ecosystem. It does not know about advisories, ranges or lockfiles (`osv` and `lockfile` use
//! it). Numbers of any length are compared as digit strings, so no version overflows.
//!
//! Why not the `semver` crate: its numbers are `u64` (the fixtures hold 30-digit components),
//! its `Ord` compares build metadata (OSV ignores it) and it rejects the two-component and
//! leading-zero versions that real advisories contain; the order itself is 60 lines.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

use regex::Regex;

/// The package ecosystems whose versions this collector can order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Rust crates (SemVer 2).
    CratesIo,
    /// Go modules (SemVer 2 with a `v` prefix, pseudo-versions, `+incompatible`).
    Go,
    /// npm packages (SemVer 2).
    Npm,
    /// Composer packages (PHP `version_compare` after stripping a leading `v`).
    Packagist,
    /// Python packages (PEP 440).
    PyPi,
    /// Ruby gems (`Gem::Version`).
    RubyGems,
}

impl Ecosystem {
    /// The OSV name of the ecosystem.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Npm => "npm",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::PyPi => "PyPI",
            Ecosystem::RubyGems => "RubyGems",
        }
    }

    /// Parses an OSV ecosystem name; a `:suffix` (e.g. `Debian:12`) is not one of ours.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        [
            Ecosystem::CratesIo,
            Ecosystem::Go,
            Ecosystem::Npm,
            Ecosystem::Packagist,
            Ecosystem::PyPi,
            Ecosystem::RubyGems,
        ]
        .into_iter()
        .find(|eco| eco.osv_name() == name)
    }

    /// The package name as compared: PEP 503 for PyPI, lowercase for Packagist, else as is.
    pub fn normalise_name(self, name: &str) -> String {
        match self {
            Ecosystem::PyPi => pep503(name),
            Ecosystem::Packagist => name.to_ascii_lowercase(),
            _ => name.to_string(),
        }
    }

    /// The name of the version scheme, for messages.
    pub fn scheme(self) -> &'static str {
        match self {
            Ecosystem::CratesIo | Ecosystem::Go | Ecosystem::Npm => "SemVer",
            Ecosystem::Packagist => "PHP version_compare",
            Ecosystem::PyPi => "PEP 440",
            Ecosystem::RubyGems => "Gem::Version",
        }
    }
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for ch in name.trim().chars() {
        if matches!(ch, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(ch.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// A version string that the ecosystem's scheme cannot order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version} is not a {scheme} version")]
pub struct VersionError {
    /// The rejected text.
    pub version: String,
    /// The scheme, e.g. `PEP 440`.
    pub scheme: &'static str,
}

/// A parsed, comparable version of one ecosystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// SemVer 2 precedence key.
    Sem(SemVer),
    /// PEP 440 key.
    Pep(Pep440),
    /// PHP `version_compare` canonical parts.
    Php(PhpVersion),
    /// `Gem::Version` canonical segments.
    Gem(GemVersion),
}

impl Version {
    /// Parses `text` with the ecosystem's scheme; PyPI accepts only valid PEP 440 here.
    pub fn parse(eco: Ecosystem, text: &str) -> Result<Version, VersionError> {
        let error = || VersionError { version: text.to_string(), scheme: eco.scheme() };
        match eco {
            Ecosystem::CratesIo | Ecosystem::Go | Ecosystem::Npm => {
                SemVer::parse(text).map(Version::Sem).ok_or_else(error)
            }
            Ecosystem::PyPi => Pep440::parse(text).map(Version::Pep).ok_or_else(error),
            Ecosystem::Packagist => PhpVersion::parse(text).map(Version::Php).ok_or_else(error),
            Ecosystem::RubyGems => GemVersion::parse(text).map(Version::Gem).ok_or_else(error),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Version::Sem(a), Version::Sem(b)) => a.cmp(b),
            (Version::Pep(a), Version::Pep(b)) => a.cmp(b),
            (Version::Php(a), Version::Php(b)) => a.cmp(b),
            (Version::Gem(a), Version::Gem(b)) => a.cmp(b),
            // Different schemes are never compared by the matcher; order them stably.
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Version {
    fn rank(&self) -> u8 {
        match self {
            Version::Sem(_) => 0,
            Version::Pep(_) => 1,
            Version::Php(_) => 2,
            Version::Gem(_) => 3,
        }
    }
}

/// Most entries kept by [`parse_cached`] per thread before the cache is emptied.
const CACHE_ENTRIES: usize = 200_000;

type ParseCache = HashMap<(Ecosystem, String), Result<Rc<Version>, VersionError>>;

thread_local! {
    static CACHE: RefCell<ParseCache> = RefCell::new(HashMap::new());
}

/// [`Version::parse`] with a per-thread cache: advisory bounds repeat across records and
/// lockfiles, and PEP 440 parsing is a regex match.
pub fn parse_cached(eco: Ecosystem, text: &str) -> Result<Rc<Version>, VersionError> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (eco, text.to_string());
        if let Some(hit) = cache.get(&key) {
            return hit.clone();
        }
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        let parsed = Version::parse(eco, text).map(Rc::new);
        cache.insert(key, parsed.clone());
        parsed
    })
}

/// Compares two version strings of one ecosystem.
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(Version::parse(eco, a)?.cmp(&Version::parse(eco, b)?))
}

/// An unsigned integer of any length: digits without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Num(String);

impl Num {
    /// `digits` must be ASCII digits; leading zeros are dropped.
    fn new(digits: &str) -> Num {
        Num(digits.trim_start_matches('0').to_string())
    }

    fn zero() -> Num {
        Num(String::new())
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------- SemVer

/// SemVer 2 precedence: numeric core (any number of components, missing ones are zero), then
/// prerelease identifiers; build metadata is dropped at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    core: Vec<Num>,
    pre: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(Num),
    Alpha(String),
}

impl SemVer {
    /// Parses `[v]MAJOR[.MINOR[.PATCH…]][-PRE][+BUILD]`; leading zeros and short or long
    /// cores are accepted (real advisories use `0.1`), empty identifiers are not.
    pub fn parse(text: &str) -> Option<SemVer> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let text = text.split_once('+').map_or(text, |(head, _)| head);
        let (core_text, pre_text) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let mut core = Vec::new();
        for part in core_text.split('.') {
            if !all_digits(part) {
                return None;
            }
            core.push(Num::new(part));
        }
        while core.len() > 3 && core.last().is_some_and(Num::is_zero) {
            core.pop();
        }
        let mut pre = Vec::new();
        if let Some(pre_text) = pre_text {
            for part in pre_text.split('.') {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return None;
                }
                pre.push(if all_digits(part) {
                    Ident::Num(Num::new(part))
                } else {
                    Ident::Alpha(part.to_string())
                });
            }
        }
        Some(SemVer { core, pre })
    }

    /// Whether the version has prerelease identifiers.
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.core.len().max(other.core.len());
        let zero = Num::zero();
        for i in 0..len {
            let a = self.core.get(i).unwrap_or(&zero);
            let b = other.core.get(i).unwrap_or(&zero);
            match a.cmp(b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        }
    }
}

/// A Go pseudo-version: its commit time (`YYYYMMDDhhmmss`), and whether its base is v0.0.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudoVersion {
    /// The commit time as `YYYY-MM-DDThh:mm:ssZ`.
    pub commit_time: String,
    /// The abbreviated commit hash.
    pub commit: String,
    /// Whether the pseudo-version sits on no tag at all (`v0.0.0-…`).
    pub zero_base: bool,
}

/// Recognises a Go pseudo-version (`vX.0.0-yyyymmddhhmmss-abcdef123456` and the two forms
/// based on a tag).
pub fn go_pseudo_version(text: &str) -> Option<PseudoVersion> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^v?(\d+\.\d+\.\d+)-(?:.*\.)?(?:0\.)?(\d{14})-([0-9a-f]{12})(?:\+.*)?$")
            .expect("static pseudo-version regex compiles")
    });
    let caps = re.captures(text.trim())?;
    let t = &caps[2];
    Some(PseudoVersion {
        commit_time: format!(
            "{}-{}-{}T{}:{}:{}Z",
            &t[0..4],
            &t[4..6],
            &t[6..8],
            &t[8..10],
            &t[10..12],
            &t[12..14]
        ),
        commit: caps[3].to_string(),
        zero_base: &caps[1] == "0.0.0",
    })
}

// ---------------------------------------------------------------- PEP 440

/// A PEP 440 version key, ordered as Python's `packaging` orders it. Legacy (non-PEP 440)
/// versions exist only through [`Pep440::parse_with_legacy`] and sort before all others.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pep440 {
    /// A setuptools legacy version (`0.1-bulbasaur`).
    Legacy(Vec<String>),
    /// A valid PEP 440 version.
    Valid(PepKey),
}

/// The comparison key of a valid PEP 440 version (`packaging`'s `_cmpkey`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PepKey {
    epoch: Num,
    release: Vec<Num>,
    pre: PreKey,
    post: Option<Num>,
    dev: DevKey,
    local: Option<Vec<LocalPart>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey {
    /// A dev release without pre or post: before every prerelease.
    Lowest,
    /// `a` = 0, `b` = 1, `rc` = 2.
    Pre(u8, Num),
    /// No prerelease.
    Highest,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum DevKey {
    Dev(Num),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalPart {
    Text(String),
    Int(Num),
}

fn pep440_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?ix)^\s*v?
            (?:(?P<epoch>[0-9]+)!)?
            (?P<release>[0-9]+(?:\.[0-9]+)*)
            (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
            (?P<post>(?:-(?P<post_n1>[0-9]+))
                    |(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
            (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
            (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
            \s*$",
        )
        .expect("static PEP 440 regex compiles")
    })
}

impl Pep440 {
    /// Parses a valid PEP 440 version.
    pub fn parse(text: &str) -> Option<Pep440> {
        let caps = pep440_regex().captures(text)?;
        let num = |name: &str| caps.name(name).map_or_else(Num::zero, |m| Num::new(m.as_str()));
        let mut release: Vec<Num> = caps["release"].split('.').map(Num::new).collect();
        while release.len() > 1 && release.last().is_some_and(Num::is_zero) {
            release.pop();
        }
        let pre = caps.name("pre_l").map(|l| {
            let rank = match l.as_str().to_ascii_lowercase().as_str() {
                "a" | "alpha" => 0,
                "b" | "beta" => 1,
                _ => 2,
            };
            (rank, num("pre_n"))
        });
        let post = caps.name("post").map(|_| {
            caps.name("post_n1")
                .or_else(|| caps.name("post_n2"))
                .map_or_else(Num::zero, |m| Num::new(m.as_str()))
        });
        let dev = caps.name("dev").map(|_| num("dev_n"));
        let pre = match (pre, &post, &dev) {
            (None, None, Some(_)) => PreKey::Lowest,
            (None, _, _) => PreKey::Highest,
            (Some((rank, n)), _, _) => PreKey::Pre(rank, n),
        };
        let local = caps.name("local").map(|m| {
            m.as_str()
                .split(['-', '_', '.'])
                .map(|part| {
                    if all_digits(part) {
                        LocalPart::Int(Num::new(part))
                    } else {
                        LocalPart::Text(part.to_ascii_lowercase())
                    }
                })
                .collect()
        });
        Some(Pep440::Valid(PepKey {
            epoch: num("epoch"),
            release,
            pre,
            post,
            dev: dev.map_or(DevKey::None, DevKey::Dev),
            local,
        }))
    }

    /// Parses any string: valid PEP 440, else setuptools' legacy order. Used to order data,
    /// never to decide a match.
    pub fn parse_with_legacy(text: &str) -> Pep440 {
        Pep440::parse(text).unwrap_or_else(|| Pep440::Legacy(legacy_key(text)))
    }
}

/// setuptools' `LegacyVersion` key.
fn legacy_key(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\d+|[a-z]+|\.|-").expect("static regex compiles"));
    let lower = text.to_lowercase();
    let mut raw = Vec::new();
    let mut last = 0;
    for m in re.find_iter(&lower) {
        if m.start() > last {
            raw.push(lower[last..m.start()].to_string());
        }
        raw.push(m.as_str().to_string());
        last = m.end();
    }
    if last < lower.len() {
        raw.push(lower[last..].to_string());
    }
    let mut parts: Vec<String> = Vec::new();
    let mapped = raw.into_iter().filter_map(|part| {
        let part = match part.as_str() {
            "pre" | "preview" | "rc" => "c".to_string(),
            "-" => "final-".to_string(),
            "dev" => "@".to_string(),
            _ => part,
        };
        if part.is_empty() || part == "." {
            None
        } else if part.as_bytes()[0].is_ascii_digit() {
            Some(format!("{part:0>8}"))
        } else {
            Some(format!("*{part}"))
        }
    });
    for part in mapped.chain(std::iter::once("*final".to_string())) {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}

// ---------------------------------------------------------------- PHP

/// PHP `version_compare` order, after stripping a leading `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhpVersion {
    parts: Vec<String>,
}

impl PhpVersion {
    /// Canonicalises like php-src `php_canonicalize_version`; any non-empty text parses.
    pub fn parse(text: &str) -> Option<PhpVersion> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        if text.is_empty() {
            return None;
        }
        Some(PhpVersion { parts: php_canonical(text).split('.').map(str::to_string).collect() })
    }
}

fn php_canonical(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = vec![bytes[0]];
    let is_dig = |b: u8| b.is_ascii_digit();
    let is_ndig = |b: u8| !b.is_ascii_digit() && b != b'.';
    let mut last = bytes[0];
    for &b in &bytes[1..] {
        let prev_dot = out.last() == Some(&b'.');
        if matches!(b, b'-' | b'_' | b'+') {
            if !prev_dot {
                out.push(b'.');
            }
        } else if (is_ndig(last) && is_dig(b)) || (is_dig(last) && is_ndig(b)) {
            if !prev_dot {
                out.push(b'.');
            }
            out.push(b);
        } else if !b.is_ascii_alphanumeric() {
            if !prev_dot {
                out.push(b'.');
            }
        } else {
            out.push(b);
        }
        last = b;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn php_special_order(form: &str) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS.iter().find(|(name, _)| form.starts_with(name)).map_or(-6, |(_, order)| *order)
}

fn php_part_cmp(a: &str, b: &str) -> Ordering {
    match (all_digits(a), all_digits(b)) {
        (true, true) => Num::new(a).cmp(&Num::new(b)),
        (false, false) => php_special_order(a).cmp(&php_special_order(b)),
        (true, false) => php_special_order("#").cmp(&php_special_order(b)),
        (false, true) => php_special_order(a).cmp(&php_special_order("#")),
    }
}

fn php_rest_cmp(rest: &[String], rest_is_left: bool) -> Ordering {
    let first = rest.first().map_or("", String::as_str);
    let order = if all_digits(first) {
        Ordering::Greater
    } else {
        let hash_n = ["#".to_string(), "N".to_string(), "#".to_string()];
        php_parts_cmp(rest, &hash_n)
    };
    if rest_is_left {
        order
    } else {
        order.reverse()
    }
}

fn php_parts_cmp(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match php_part_cmp(x, y) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
    }
    match a.len().cmp(&b.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater => php_rest_cmp(&a[b.len()..], true),
        Ordering::Less => php_rest_cmp(&b[a.len()..], false),
    }
}

impl PartialOrd for PhpVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PhpVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        php_parts_cmp(&self.parts, &other.parts)
    }
}

// ---------------------------------------------------------------- RubyGems

/// `Gem::Version` order on canonical segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemVersion {
    segments: Vec<GemSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GemSegment {
    Num(Num),
    Text(String),
}

impl GemVersion {
    /// Parses like `Gem::Version.new` (`-` becomes `.pre.`); text must match its pattern.
    pub fn parse(text: &str) -> Option<GemVersion> {
        static RE: OnceLock<Regex> = OnceLock::new();
        let re = RE.get_or_init(|| {
            Regex::new(r"^\s*[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*$")
                .expect("static gem version regex compiles")
        });
        // `Gem::Version.new("")` is 0, but an empty lockfile version must not compare as 0.
        if text.trim().is_empty() {
            return None;
        }
        let ok = re.is_match(text);
        // `1beta` and `1.0.a10` are accepted by rubygems as well: letters right after digits.
        if !ok && !text.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return None;
        }
        let text = text.trim().replace('-', ".pre.");
        let mut raw = Vec::new();
        let mut current = String::new();
        for ch in text.chars() {
            let boundary = match current.chars().last() {
                Some(prev) => prev.is_ascii_digit() != ch.is_ascii_digit() || ch == '.',
                None => false,
            };
            if boundary {
                raw.push(std::mem::take(&mut current));
            }
            if ch != '.' {
                current.push(ch);
            }
        }
        raw.push(current);
        let raw: Vec<GemSegment> =
            raw.into_iter()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    if all_digits(&s) {
                        GemSegment::Num(Num::new(&s))
                    } else {
                        GemSegment::Text(s)
                    }
                })
                .collect();
        Some(GemVersion { segments: gem_canonical(raw) })
    }

    /// `Gem::Version#bump` as used by `~>`: drop prerelease parts, drop the last segment
    /// (when more than one), increment the new last.
    pub fn bump(&self) -> GemVersion {
        let mut nums: Vec<Num> = self
            .segments
            .iter()
            .take_while(|s| matches!(s, GemSegment::Num(_)))
            .map(|s| match s {
                GemSegment::Num(n) => n.clone(),
                GemSegment::Text(_) => Num::zero(),
            })
            .collect();
        if nums.len() > 1 {
            nums.pop();
        }
        let last = nums.pop().unwrap_or_else(Num::zero);
        nums.push(increment(&last));
        GemVersion { segments: nums.into_iter().map(GemSegment::Num).collect() }
    }

    /// Whether the version has a letter segment.
    pub fn is_prerelease(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, GemSegment::Text(_)))
    }
}

fn increment(num: &Num) -> Num {
    let mut digits: Vec<u8> = if num.0.is_empty() { vec![b'0'] } else { num.0.bytes().collect() };
    let mut i = digits.len();
    loop {
        if i == 0 {
            digits.insert(0, b'1');
            break;
        }
        i -= 1;
        if digits[i] == b'9' {
            digits[i] = b'0';
        } else {
            digits[i] += 1;
            break;
        }
    }
    Num::new(&String::from_utf8_lossy(&digits))
}

/// Drops trailing zeros of the numeric part and of the part after the first letter.
fn gem_canonical(segments: Vec<GemSegment>) -> Vec<GemSegment> {
    let split = segments.iter().position(|s| matches!(s, GemSegment::Text(_)));
    let (numeric, rest) = segments.split_at(split.unwrap_or(segments.len()));
    let trim = |part: &[GemSegment]| {
        let mut part = part.to_vec();
        while matches!(part.last(), Some(GemSegment::Num(n)) if n.is_zero()) {
            part.pop();
        }
        part
    };
    let mut out = trim(numeric);
    out.extend(trim(rest));
    out
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = GemSegment::Num(Num::zero());
        let len = self.segments.len().max(other.segments.len());
        for i in 0..len {
            let a = self.segments.get(i).unwrap_or(&zero);
            let b = other.segments.get(i).unwrap_or(&zero);
            let order = match (a, b) {
                (GemSegment::Num(x), GemSegment::Num(y)) => x.cmp(y),
                (GemSegment::Text(x), GemSegment::Text(y)) => x.cmp(y),
                (GemSegment::Text(_), GemSegment::Num(_)) => Ordering::Less,
                (GemSegment::Num(_), GemSegment::Text(_)) => Ordering::Greater,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/versions");

    /// Every `A op B` line of a fixture file, with its line number.
    fn cases(file: &str) -> Vec<(usize, String, char, String)> {
        let path = format!("{FIXTURES}/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut out = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with("//") || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "{file}:{}: {line}", index + 1);
            let op = parts[1].chars().next().expect("op");
            out.push((index + 1, parts[0].to_string(), op, parts[2].to_string()));
        }
        assert!(!out.is_empty(), "{file} has no cases");
        out
    }

    /// Fixture lines that contradict a total order; each is listed with the reason.
    /// `1.2.3.# = 1.2.3` and `1.2.3.# = 1.2.3.1` cannot both hold next to `1.2.3 < 1.2.3.1`;
    /// php-src `version_compare` itself gives `<` for both.
    const NOT_A_TOTAL_ORDER: [(&str, usize); 4] = [
        ("packagist-versions.txt", 94),
        ("packagist-versions.txt", 96),
        ("osvdev-packagist_test_cases.txt", 88),
        ("osvdev-packagist_test_cases.txt", 90),
    ];

    fn check(file: &str, order: impl Fn(&str, &str) -> Ordering) {
        let mut wrong = Vec::new();
        let all = cases(file);
        for (line, a, op, b) in &all {
            if NOT_A_TOTAL_ORDER.contains(&(file, *line)) {
                assert_ne!(order(a, b), Ordering::Equal, "{file}:{line} now equal; revisit");
                continue;
            }
            let want = match op {
                '<' => Ordering::Less,
                '>' => Ordering::Greater,
                _ => Ordering::Equal,
            };
            let got = order(a, b);
            let back = order(b, a);
            if got != want || back != want.reverse() {
                wrong.push(format!("{file}:{line}: {a} {op} {b}, got {got:?}"));
            }
        }
        assert!(wrong.is_empty(), "{} of {} wrong:\n{}", wrong.len(), all.len(), wrong.join("\n"));
    }

    fn sem(a: &str, b: &str) -> Ordering {
        compare(Ecosystem::Npm, a, b).expect("semver fixture parses")
    }

    fn pypi(a: &str, b: &str) -> Ordering {
        Pep440::parse_with_legacy(a).cmp(&Pep440::parse_with_legacy(b))
    }

    fn php(a: &str, b: &str) -> Ordering {
        compare(Ecosystem::Packagist, a, b).expect("php fixture parses")
    }

    fn gem(a: &str, b: &str) -> Ordering {
        compare(Ecosystem::RubyGems, a, b).expect("gem fixture parses")
    }

    #[test]
    fn semver_fixture() {
        check("semver-versions.txt", sem);
    }

    #[test]
    fn pypi_fixtures() {
        check("pypi-versions.txt", pypi);
        check("pypi-versions-generated.txt", pypi);
    }

    #[test]
    fn packagist_fixtures() {
        check("packagist-versions.txt", php);
        check("packagist-versions-generated.txt", php);
        check("osvdev-packagist_test_cases.txt", php);
    }

    #[test]
    fn rubygems_fixtures() {
        check("rubygems-versions.txt", gem);
        check("rubygems-versions-generated.txt", gem);
    }

    #[test]
    fn semver_ignores_build_metadata_and_orders_prereleases() {
        assert_eq!(sem("25.0.6+incompatible", "25.0.6"), Ordering::Equal);
        assert_eq!(sem("v25.0.5+incompatible", "25.0.6"), Ordering::Less);
        assert_eq!(sem("0.4.0-beta.1", "0.3.0-beta.1"), Ordering::Greater);
        assert_eq!(sem("0.7.0-alpha", "0.7.0-0"), Ordering::Greater);
        assert_eq!(sem("0.0.0-20211117234946-dea9396e1842", "20.10.9"), Ordering::Less);
        assert_eq!(sem("0.1", "0.1.0"), Ordering::Equal);
        assert!(SemVer::parse("1.2.x").is_none());
        assert!(SemVer::parse("1.0.0-").is_none());
        assert!(SemVer::parse("").is_none());
        assert!(GemVersion::parse(" ").is_none());
        assert!(Pep440::parse("").is_none());
    }

    #[test]
    fn pep440_rules_from_the_cases() {
        let strict = |a: &str, b: &str| compare(Ecosystem::PyPi, a, b).expect("valid PEP 440");
        assert_eq!(strict("22.10.0rc1", "22.10.0"), Ordering::Less);
        assert_eq!(strict("2022.12.07", "2022.12.7"), Ordering::Equal);
        assert_eq!(strict("2017.7.27.1", "2017.11.05"), Ordering::Less);
        assert_eq!(strict("1.8c1", "1.8rc1"), Ordering::Equal);
        assert_eq!(strict("1.0.dev0", "1.0a0"), Ordering::Less);
        assert!(Pep440::parse("0.38-final-hotfix").is_none());
        assert!(Pep440::parse("2019-09-12").is_none());
        assert!(Pep440::parse("-class.-jw.util.version.Version-").is_none());
    }

    #[test]
    fn php_patch_suffix_and_branches() {
        assert_eq!(php("2.3.2-p1", "2.3.2"), Ordering::Greater);
        assert_eq!(php("2.3.2-p1", "2.3.2-p2"), Ordering::Less);
        assert_eq!(php("v1.0.8", "1.0.8"), Ordering::Equal);
        assert_eq!(php("2.0.0-alpha4", "2.0.0"), Ordering::Less);
    }

    #[test]
    fn gem_bump_for_pessimistic_requirements() {
        let bump = |t: &str| GemVersion::parse(t).expect("gem").bump();
        assert_eq!(bump("7.2.2"), GemVersion::parse("7.3").expect("gem"));
        assert_eq!(bump("2.2"), GemVersion::parse("3").expect("gem"));
        assert_eq!(bump("1.9.9"), GemVersion::parse("1.10").expect("gem"));
        assert_eq!(bump("5"), GemVersion::parse("6").expect("gem"));
    }

    #[test]
    fn go_pseudo_versions_are_recognised() {
        let p = go_pseudo_version("v0.0.0-20211117234946-dea9396e1842").expect("pseudo");
        assert_eq!(p.commit_time, "2021-11-17T23:49:46Z");
        assert!(p.zero_base);
        let p = go_pseudo_version("v0.1.1-0.20221104162952-702349b0e862").expect("pseudo");
        assert!(!p.zero_base);
        assert!(go_pseudo_version("v1.5.9").is_none());
    }

    #[test]
    fn pypi_names_are_normalised() {
        assert_eq!(pep503("JW_Util"), "jw-util");
        assert_eq!(pep503("jw.util"), "jw-util");
        assert_eq!(pep503("Appium-Python-Client"), "appium-python-client");
        assert_eq!(pep503("a__-.b"), "a-b");
    }
}
