//! The advisory database: loading OSV records from directories and osv.dev zip exports and
//! FriendsOfPHP / RubySec trees, indexing them by package, grouping aliases, and describing
//! the snapshot that was used.
//!
//! Owns [`load`], [`Database`] and [`Snapshot`]. A source that cannot be read at all (a
//! missing directory, a truncated zip) is a [`SourceFailure`]; the other sources still load.
//! A record that cannot be parsed is skipped with an error naming it. Aliases are grouped
//! transitively with a union-find over `id` and `aliases` of records that are not withdrawn.
//! It does not evaluate ranges (`osv`) or build findings (`findings`), and it does not fetch
//! anything: `refresh` replaces a zip before it is loaded.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::native;
use super::osv::{parse_osv, Record, RecordError, Rule};
use super::version::Ecosystem;

/// The kind of a configured advisory source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A directory tree of OSV JSON files (`*.json`).
    OsvDir,
    /// An osv.dev `all.zip` / per-ecosystem zip export.
    OsvZip,
    /// A FriendsOfPHP security-advisories checkout (`<vendor>/<package>/*.yaml`).
    FriendsOfPhp,
    /// A RubySec ruby-advisory-db checkout (`gems/<gem>/*.yml`).
    RubySec,
}

/// One configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its kind.
    pub kind: SourceKind,
    /// Directory or zip file.
    pub path: PathBuf,
}

/// A source that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The source path.
    pub path: String,
    /// What went wrong, lowercase.
    pub message: String,
}

/// What one load produced: which data, how much, how new.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// SHA-256 over every source's (name, content digest) lines, in configuration order.
    pub digest: String,
    /// Records loaded (withdrawn included).
    pub records: usize,
    /// Withdrawn records (kept, never applied).
    pub withdrawn: usize,
    /// The newest `modified` time among the records.
    pub newest_modified: Option<String>,
    /// Per source: path, kind, digest, records.
    pub sources: Vec<(String, SourceKind, String, usize)>,
    /// Records that could not be read, each naming the file or entry.
    pub record_errors: Vec<String>,
    /// Data warnings (unknown ecosystems, unknown range types), each naming the record.
    pub warnings: Vec<String>,
    /// Entries skipped per OSV ecosystem this collector does not read.
    pub skipped_ecosystems: BTreeMap<String, usize>,
}

/// Loaded, indexed advisories.
#[derive(Debug, Default)]
pub struct Database {
    /// All records, withdrawn included.
    pub records: Vec<Record>,
    /// Record indices per (ecosystem, normalised name).
    index: HashMap<(Ecosystem, String), Vec<usize>>,
    /// Alias group per record (an index into `group_ids`).
    group_of: Vec<usize>,
    /// What was loaded.
    pub snapshot: Snapshot,
}

/// OSV ecosystems that exist but that no lockfile reader here produces; counted, not warned.
const OTHER_OSV_ECOSYSTEMS: [&str; 24] = [
    "AlmaLinux",
    "Alpine",
    "Android",
    "Bitnami",
    "Chainguard",
    "ConanCenter",
    "CRAN",
    "Debian",
    "GHC",
    "GitHub Actions",
    "Hackage",
    "Hex",
    "Linux",
    "Mageia",
    "Maven",
    "NuGet",
    "openSUSE",
    "OSS-Fuzz",
    "Pub",
    "Red Hat",
    "Rocky Linux",
    "SUSE",
    "SwiftURL",
    "Ubuntu",
];

impl Database {
    /// Indices of the records that name (`eco`, normalised `name`).
    pub fn for_package(&self, eco: Ecosystem, norm_name: &str) -> &[usize] {
        self.index.get(&(eco, norm_name.to_string())).map_or(&[], Vec::as_slice)
    }

    /// The alias group of record `index`.
    pub fn group(&self, index: usize) -> usize {
        self.group_of.get(index).copied().unwrap_or(index)
    }

    /// Builds the index, alias groups and snapshot counts over `records`.
    pub fn from_records(records: Vec<Record>, mut snapshot: Snapshot) -> Database {
        let mut index: HashMap<(Ecosystem, String), Vec<usize>> = HashMap::new();
        for (i, record) in records.iter().enumerate() {
            note_record(record, &mut snapshot);
            let mut seen = Vec::new();
            for entry in &record.affected {
                if let Ok(eco) = entry.ecosystem {
                    let key = (eco, entry.norm_name.clone());
                    if !seen.contains(&key) {
                        index.entry(key.clone()).or_default().push(i);
                        seen.push(key);
                    }
                }
            }
        }
        snapshot.records = records.len();
        let group_of = alias_groups(&records);
        Database { records, index, group_of, snapshot }
    }
}

fn note_record(record: &Record, snapshot: &mut Snapshot) {
    if record.withdrawn.is_some() {
        snapshot.withdrawn += 1;
    }
    if snapshot.newest_modified.as_deref().is_none_or(|m| record.modified.as_str() > m) {
        snapshot.newest_modified = Some(record.modified.clone());
    }
    for entry in &record.affected {
        if let Err(name) = &entry.ecosystem {
            let base = name.split(':').next().unwrap_or(name);
            if OTHER_OSV_ECOSYSTEMS.contains(&base) {
                *snapshot.skipped_ecosystems.entry(base.to_string()).or_default() += 1;
            } else {
                snapshot
                    .warnings
                    .push(format!("unknown ecosystem {name} in {}, entry skipped", record.id));
            }
        }
        for rule in &entry.rules {
            if let Rule::Unknown(kind) = rule {
                snapshot.warnings.push(format!(
                    "{} ({}): unknown range type {kind}; its packages are reported as not assessed",
                    record.id, record.origin
                ));
            }
        }
    }
}

/// Union-find over the IDs and aliases of records that are not withdrawn; returns one group
/// number per record.
fn alias_groups(records: &[Record]) -> Vec<usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut record_node = Vec::with_capacity(records.len());
    for record in records {
        let node = node_of(&mut ids, &mut parent, &record.id);
        record_node.push(node);
        if record.withdrawn.is_some() {
            continue;
        }
        for alias in &record.aliases {
            let other = node_of(&mut ids, &mut parent, alias);
            union(&mut parent, node, other);
        }
    }
    record_node.into_iter().map(|node| find(&mut parent, node)).collect()
}

fn node_of<'a>(ids: &mut HashMap<&'a str, usize>, parent: &mut Vec<usize>, id: &'a str) -> usize {
    *ids.entry(id).or_insert_with(|| {
        parent.push(parent.len());
        parent.len() - 1
    })
}

fn find(parent: &mut [usize], mut node: usize) -> usize {
    while parent[node] != node {
        parent[node] = parent[parent[node]];
        node = parent[node];
    }
    node
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

/// Loads every source; a source that fails is reported and the rest still load.
pub fn load(sources: &[Source], max_record_bytes: u64) -> (Database, Vec<SourceFailure>) {
    let mut records = Vec::new();
    let mut snapshot = Snapshot::default();
    let mut failures = Vec::new();
    let mut outer = Sha256::new();
    for source in sources {
        let path = source.path.display().to_string();
        let before = records.len();
        let result = match source.kind {
            SourceKind::OsvZip => {
                load_zip(&source.path, max_record_bytes, &mut records, &mut snapshot)
            }
            kind => load_dir(kind, &source.path, max_record_bytes, &mut records, &mut snapshot),
        };
        match result {
            Ok(digest) => {
                outer.update(format!("{path}\0{digest}\n"));
                snapshot.sources.push((path, source.kind, digest, records.len() - before));
            }
            Err(message) => {
                records.truncate(before);
                failures.push(SourceFailure { path, message });
            }
        }
    }
    snapshot.digest = hex::encode(outer.finalize());
    (Database::from_records(records, snapshot), failures)
}

fn parse_entry(
    kind: SourceKind,
    bytes: &[u8],
    origin: &str,
    stem: &str,
) -> Result<Record, RecordError> {
    match kind {
        SourceKind::OsvDir | SourceKind::OsvZip => parse_osv(bytes, origin),
        SourceKind::FriendsOfPhp => native::friendsofphp(bytes, origin, stem),
        SourceKind::RubySec => native::rubysec(bytes, origin, stem),
    }
}

fn wanted(kind: SourceKind, rel: &str) -> bool {
    match kind {
        SourceKind::OsvDir | SourceKind::OsvZip => rel.ends_with(".json"),
        SourceKind::FriendsOfPhp => rel.ends_with(".yaml") && rel.matches('/').count() == 2,
        SourceKind::RubySec => rel.starts_with("gems/") && rel.ends_with(".yml"),
    }
}

fn load_dir(
    kind: SourceKind,
    root: &Path,
    max_bytes: u64,
    records: &mut Vec<Record>,
    snapshot: &mut Snapshot,
) -> Result<String, String> {
    let mut files = Vec::new();
    walk(root, root, &mut files).map_err(|e| format!("cannot read directory: {e}"))?;
    files.sort();
    let files: Vec<&String> = files.iter().filter(|rel| wanted(kind, rel)).collect();
    let loaded = parallel(&files, |rel| load_file(kind, root, rel, max_bytes));
    let mut hasher = Sha256::new();
    for (rel, (digest, result)) in files.iter().zip(loaded) {
        if let Some(digest) = digest {
            hasher.update(format!("{rel}\0{digest}\n"));
        }
        match result {
            Ok(record) => records.push(record),
            Err(message) => snapshot.record_errors.push(message),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads, hashes and parses one file: (content digest, record or error naming the file).
fn load_file(
    kind: SourceKind,
    root: &Path,
    rel: &str,
    max_bytes: u64,
) -> (Option<String>, Result<Record, String>) {
    let full = root.join(rel);
    let origin = full.display().to_string();
    let bytes = match read_capped(&full, max_bytes) {
        Ok(bytes) => bytes,
        Err(message) => return (None, Err(format!("{origin}: {message}"))),
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let stem = rel.trim_start_matches("gems/").rsplit_once('.').map_or(rel, |(s, _)| s);
    (Some(digest), parse_entry(kind, &bytes, &origin, stem).map_err(|e| e.to_string()))
}

/// Maps `f` over `items` on up to four threads, keeping the order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("loader threads do not panic")).collect()
    })
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

fn read_capped(path: &Path, max_bytes: u64) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("larger than {max_bytes} bytes, skipped"));
    }
    Ok(bytes)
}

fn load_zip(
    path: &Path,
    max_bytes: u64,
    records: &mut Vec<Record>,
    snapshot: &mut Snapshot,
) -> Result<String, String> {
    let digest = {
        let mut file = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot read: {e}"))?;
        hex::encode(hasher.finalize())
    };
    let file = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let archive =
        zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    let indices: Vec<usize> = (0..archive.len()).collect();
    let chunks: Vec<&[usize]> = indices.chunks(indices.len().div_ceil(4).max(1)).collect();
    // Each thread opens its own reader; entries stay in archive order.
    let parts = parallel(&chunks, |part| load_zip_entries(path, part, max_bytes));
    let mut new = Vec::new();
    for part in parts {
        for (origin, result) in part? {
            match result {
                Ok(record) => new.push(record),
                Err(message) => snapshot.record_errors.push(format!("{origin}: {message}")),
            }
        }
    }
    records.extend(new);
    Ok(digest)
}

type ZipPart = Vec<(String, Result<Record, String>)>;

/// Reads and parses the entries `indices` of the zip; a damaged entry means the archive
/// cannot be trusted as a snapshot, so it fails the whole source.
fn load_zip_entries(path: &Path, indices: &[usize], max_bytes: u64) -> Result<ZipPart, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut out = Vec::new();
    for &i in indices {
        let mut entry = archive.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = entry.name().to_string();
        if !entry.is_file() || !name.ends_with(".json") {
            continue;
        }
        let origin = format!("{}!{name}", path.display());
        if entry.size() > max_bytes {
            out.push((origin, Err(format!("larger than {max_bytes} bytes"))));
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry.read_to_end(&mut bytes).map_err(|e| format!("{origin}: cannot decompress: {e}"))?;
        let parsed = parse_osv(&bytes, &origin).map_err(|e| e.message);
        out.push((origin, parsed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories");

    fn osv(id: &str, aliases: &[&str], withdrawn: bool) -> Record {
        Record {
            id: id.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            withdrawn: withdrawn.then(|| "2023-06-06T10:37:00Z".to_string()),
            ..Record::default()
        }
    }

    #[test]
    fn alias_groups_are_transitive_and_skip_withdrawn() {
        let records = vec![
            osv("PYSEC-2022-19", &["CVE-2022-22818", "GHSA-95rw-fx8r-36v6"], false),
            osv("GHSA-95rw-fx8r-36v6", &["CVE-2022-22818"], false),
            osv("TEST-2022-0019", &["GHSA-95rw-fx8r-36v6"], false),
            osv("TEST-2023-0137", &["CVE-2023-40267"], false),
            osv("TEST-GHSA-0137", &["CVE-2023-40267"], false),
            osv("W", &["CVE-2022-22818"], true),
        ];
        let groups = alias_groups(&records);
        assert_eq!(groups[0], groups[1]);
        assert_eq!(groups[0], groups[2]);
        assert_eq!(groups[3], groups[4]);
        assert_ne!(groups[0], groups[3]);
        assert_ne!(groups[5], groups[0]);
    }

    #[test]
    fn directory_and_native_sources_load_with_snapshot() {
        let sources = vec![
            Source { kind: SourceKind::OsvDir, path: format!("{DIR}/osv").into() },
            Source {
                kind: SourceKind::FriendsOfPhp,
                path: format!("{DIR}/native/friendsofphp").into(),
            },
            Source { kind: SourceKind::RubySec, path: format!("{DIR}/native/rubysec").into() },
        ];
        let (db, failures) = load(&sources, 1 << 20);
        assert!(failures.is_empty(), "{failures:?}");
        assert!(db.snapshot.record_errors.is_empty(), "{:?}", db.snapshot.record_errors);
        assert_eq!(db.snapshot.sources.len(), 3);
        assert!(db.snapshot.records > 20, "{}", db.snapshot.records);
        assert!(db.snapshot.withdrawn >= 2);
        assert_eq!(db.snapshot.digest.len(), 64);
        assert!(!db.for_package(Ecosystem::PyPi, "django").is_empty());
        let (again, _) = load(&sources, 1 << 20);
        assert_eq!(again.snapshot.digest, db.snapshot.digest);
    }

    #[test]
    fn truncated_zip_fails_that_source_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.zip");
        {
            let file = fs::File::create(&good).expect("create");
            let mut zip = zip::ZipWriter::new(file);
            let options = zip::write::SimpleFileOptions::default();
            zip.start_file("A-1.json", options).expect("start");
            std::io::Write::write_all(
                &mut zip,
                concat!(
                    r#"{"id":"A-1","modified":"2026-01-02T00:00:00Z","affected":[{"package":"#,
                    r#"{"ecosystem":"npm","name":"a"},"versions":["1.0.0"]}]}"#
                )
                .as_bytes(),
            )
            .expect("write");
            zip.start_file("bad.json", options).expect("start");
            std::io::Write::write_all(&mut zip, b"{not json").expect("write");
            zip.finish().expect("finish");
        }
        let bytes = fs::read(&good).expect("read");
        let truncated = dir.path().join("truncated.zip");
        fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
        let sources = vec![
            Source { kind: SourceKind::OsvZip, path: truncated.clone() },
            Source { kind: SourceKind::OsvZip, path: good.clone() },
        ];
        let (db, failures) = load(&sources, 1 << 20);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].path, truncated.display().to_string());
        assert!(failures[0].message.contains("zip"), "{}", failures[0].message);
        assert_eq!(db.snapshot.records, 1);
        assert_eq!(db.snapshot.newest_modified.as_deref(), Some("2026-01-02T00:00:00Z"));
        assert_eq!(db.snapshot.record_errors.len(), 1);
        assert!(db.snapshot.record_errors[0].contains("bad.json"));
    }
}
