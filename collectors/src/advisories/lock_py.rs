//! Readers for poetry.lock, Pipfile.lock and pinned requirements.txt files.
//!
//! Each turns one file's text into PyPI [`Package`]s. Names are kept as written (matching
//! normalises them with PEP 503). Git, directory, file and URL sources, editable entries,
//! entries without a version and requirements that are not pinned to one version (`>=`,
//! `==1.*`, `name @ url`, bare names) are unassessable with the reason. In a requirements
//! file read from disk ([`requirements_file`]), `-r` includes are followed relative to the
//! including file (each file once, at most [`MAX_INCLUDE_DEPTH`] levels), and `-c`
//! constraint files pin requirements that are otherwise unpinned (a constraint alone installs
//! nothing). An include that cannot be read, a remote include (never fetched) and the depth
//! limit are listed as unassessable entries naming the file and line, so the rest is still
//! scanned. Neighbours: `lockfile` (model), `lock_js`, `lock_misc`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::lockfile::{Format, LockfileError, Package};
use super::version::Ecosystem;

const PYPI: Ecosystem = Ecosystem::PyPi;

/// poetry.lock, lock-version 1.x and 2.x.
pub fn poetry(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::PoetryLock, m);
    let root: toml::Value = toml::from_str(text).map_err(|e| fail(format!("invalid toml: {e}")))?;
    let list = match root.get("package") {
        Some(toml::Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(fail("package is not an array of tables".to_string())),
        None => &[],
    };
    let mut out = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let get = |k: &str| entry.get(k).and_then(toml::Value::as_str).unwrap_or("");
        if get("name").is_empty() {
            return Err(fail(format!("package[{index}] has no name")));
        }
        let dev = poetry_dev(entry);
        let package = Package::registry(PYPI, get("name"), get("version")).dev(dev);
        let source = entry.get("source");
        let sget =
            |k: &str| source.and_then(|s| s.get(k)).and_then(toml::Value::as_str).unwrap_or("");
        out.push(match sget("type") {
            "" | "legacy" => package,
            kind => package.not_registry(
                kind,
                &[("url", sget("url")), ("commit", sget("resolved_reference"))],
            ),
        });
    }
    Ok(out)
}

fn poetry_dev(entry: &toml::Value) -> Option<bool> {
    if let Some(category) = entry.get("category").and_then(toml::Value::as_str) {
        return Some(category == "dev");
    }
    let groups = entry.get("groups")?.as_array()?;
    Some(!groups.iter().any(|g| g.as_str() == Some("main")))
}

/// Pipfile.lock: `default` (dev = false) and `develop` (dev = true).
pub fn pipfile(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::PipfileLock, m);
    let root: Value = serde_json::from_str(text).map_err(|e| fail(format!("invalid json: {e}")))?;
    if !root.is_object() {
        return Err(fail("not an object".to_string()));
    }
    let mut out = Vec::new();
    for (section, dev) in [("default", false), ("develop", true)] {
        let Some(map) = root.get(section).and_then(Value::as_object) else { continue };
        for (name, entry) in map {
            let get = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
            let version = get("version");
            let pinned = version.strip_prefix("===").or_else(|| version.strip_prefix("=="));
            let package = Package::registry(PYPI, name, pinned.unwrap_or(version)).dev(Some(dev));
            out.push(if !get("git").is_empty() {
                package.not_registry("git", &[("url", get("git")), ("commit", get("ref"))])
            } else if !get("path").is_empty() || !get("file").is_empty() {
                let path = if get("path").is_empty() { get("file") } else { get("path") };
                package.not_registry("path", &[("path", path)])
            } else if pinned.is_none() {
                package.not_registry("no pinned version", &[("version", version)])
            } else {
                package
            });
        }
    }
    Ok(out)
}

/// requirements.txt text on its own: `name==version` and `name===version` are pinned;
/// anything else is listed as unassessable; includes are not followed (see
/// [`requirements_file`]).
pub fn requirements(text: &str) -> Result<Vec<Package>, LockfileError> {
    let mut out = Vec::new();
    for (_, line) in logical_lines(text) {
        match directive(&line) {
            Directive::Requirement => out.push(requirement(&line)),
            Directive::Editable(target) => out.push(editable(target, &line)),
            Directive::Include(..) | Directive::Other => {}
        }
    }
    Ok(out)
}

/// The most levels of `-r` / `-c` files followed below the configured file.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Reads an included file: its text, or why not.
pub type ReadInclude<'a> = &'a dyn Fn(&Path) -> Result<String, String>;

/// A requirements file at `path` with its includes followed (see the module header).
pub fn requirements_file(
    path: &Path,
    text: &str,
    read: ReadInclude<'_>,
) -> Result<Vec<Package>, LockfileError> {
    let mut walk = Walk { read, seen: BTreeSet::new(), out: Vec::new(), pins: BTreeMap::new() };
    walk.seen.insert(canonical(path));
    walk.file(path, text, 0, false);
    let Walk { out, pins, .. } = walk;
    Ok(out.into_iter().map(|p| constrained(p, &pins)).collect())
}

struct Walk<'a> {
    read: ReadInclude<'a>,
    seen: BTreeSet<PathBuf>,
    out: Vec<Package>,
    /// Normalised name → version pinned by a constraint file.
    pins: BTreeMap<String, String>,
}

impl Walk<'_> {
    fn file(&mut self, path: &Path, text: &str, depth: usize, constraints: bool) {
        for (number, line) in logical_lines(text) {
            match directive(&line) {
                Directive::Requirement if constraints => {
                    let p = requirement(&line);
                    if p.unassessable.is_none() {
                        self.pins.insert(PYPI.normalise_name(&p.name), p.version);
                    }
                }
                Directive::Requirement => self.out.push(requirement(&line)),
                Directive::Editable(target) if !constraints => {
                    self.out.push(editable(target, &line));
                }
                Directive::Include(target, is_constraint) => {
                    let at = format!("{}:{number}", path.display());
                    self.include(path, target, &at, depth, constraints || is_constraint);
                }
                Directive::Editable(_) | Directive::Other => {}
            }
        }
    }

    fn include(&mut self, from: &Path, target: &str, at: &str, depth: usize, constraints: bool) {
        let unreadable = |reason: &str, detail: &str| {
            let option = if constraints { "-c" } else { "-r" };
            Package::registry(PYPI, &format!("{option} {target}"), "")
                .not_registry(reason, &[("included_at", at), ("detail", detail)])
        };
        if target.contains("://") {
            self.out.push(unreadable("remote include not fetched", target));
            return;
        }
        let joined = from.parent().unwrap_or(Path::new("/")).join(target);
        if depth + 1 > MAX_INCLUDE_DEPTH {
            let limit = format!("more than {MAX_INCLUDE_DEPTH} levels of includes");
            self.out.push(unreadable("include depth limit", &limit));
            return;
        }
        if !self.seen.insert(canonical(&joined)) {
            return; // already read: a cycle or a diamond; its packages are listed once
        }
        match (self.read)(&joined) {
            Ok(text) => self.file(&joined, &text, depth + 1, constraints),
            Err(error) => {
                let detail = format!("{}: {error}", joined.display());
                self.out.push(unreadable("included file unreadable", &detail));
            }
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// An unpinned requirement that a constraint file pins takes the constraint's version.
fn constrained(p: Package, pins: &BTreeMap<String, String>) -> Package {
    let unpinned = p.unassessable.as_ref().is_some_and(|u| u.reason == "not pinned");
    match pins.get(&PYPI.normalise_name(&p.name)) {
        Some(version) if unpinned => {
            Package::registry(PYPI, &p.name, version).direct(p.direct).dev(p.dev)
        }
        _ => p,
    }
}

/// Lines with continuations joined and comments removed, with their 1-based first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (start, mut line) = current.take().unwrap_or((index + 1, String::new()));
        let (body, continued) = match raw.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        line.push_str(body);
        line.push(' ');
        if continued {
            current = Some((start, line));
            continue;
        }
        let kept = strip_comment(line.trim()).trim().to_string();
        if !kept.is_empty() {
            out.push((start, kept));
        }
    }
    if let Some((start, line)) = current {
        let kept = strip_comment(line.trim()).trim().to_string();
        if !kept.is_empty() {
            out.push((start, kept));
        }
    }
    out
}

enum Directive<'a> {
    Requirement,
    /// `-r` (false) or `-c` (true) with its target.
    Include(&'a str, bool),
    Editable(&'a str),
    Other,
}

fn directive(line: &str) -> Directive<'_> {
    if !line.starts_with('-') {
        return Directive::Requirement;
    }
    let (option, value) = match line.find(['=', ' ', '\t']) {
        Some(at) => (&line[..at], line[at + 1..].trim()),
        None => (line, ""),
    };
    // Short options may be glued to their value: `-rbase.txt`.
    let glued = value.is_empty()
        && !option.starts_with("--")
        && option.len() > 2
        && option.is_char_boundary(2);
    let (option, value) = if glued { option.split_at(2) } else { (option, value) };
    match option {
        "-r" | "--requirement" if !value.is_empty() => Directive::Include(value, false),
        "-c" | "--constraint" if !value.is_empty() => Directive::Include(value, true),
        "-e" | "--editable" if !value.is_empty() => Directive::Editable(value),
        _ => Directive::Other,
    }
}

fn editable(target: &str, line: &str) -> Package {
    let egg = target.rsplit_once("#egg=").map_or(target, |(_, name)| name);
    Package::registry(PYPI, egg, "").not_registry("editable", &[("line", line)])
}

fn strip_comment(line: &str) -> &str {
    if line.starts_with('#') {
        return "";
    }
    line.find(" #").map_or(line, |at| &line[..at])
}

fn requirement(line: &str) -> Package {
    // Per-requirement options (`--hash=sha256:…`, `--global-option`) follow the specifier.
    let line = line.find(" --").map_or(line, |at| &line[..at]).trim();
    let spec = line.split(';').next().unwrap_or(line).trim();
    let name_end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..name_end];
    if name.is_empty() || spec.contains("://") && !spec[name_end..].trim_start().starts_with('@') {
        return Package::registry(PYPI, spec, "").not_registry("url or path", &[("line", line)]);
    }
    let mut rest = spec[name_end..].trim_start();
    if rest.starts_with('[') {
        rest = rest.split_once(']').map_or("", |(_, r)| r).trim_start();
    }
    if looks_like_path(name, rest) {
        return Package::registry(PYPI, spec, "").not_registry("url or path", &[("line", line)]);
    }
    if let Some(url) = rest.strip_prefix('@') {
        return Package::registry(PYPI, name, "")
            .not_registry("direct url", &[("url", url.trim())]);
    }
    let pinned = rest.strip_prefix("===").or_else(|| rest.strip_prefix("=="));
    match pinned.map(str::trim) {
        Some(v) if is_one_version(v) => Package::registry(PYPI, name, v),
        _ => Package::registry(PYPI, name, "").not_registry("not pinned", &[("spec", rest)]),
    }
}

/// Whether a `==` pin names exactly one version: no list, wildcard or other operator. A `!`
/// is allowed only as PEP 440's epoch separator (`1!2.0`), after digits.
fn is_one_version(v: &str) -> bool {
    let release = match v.split_once('!') {
        Some((epoch, release))
            if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) =>
        {
            release
        }
        Some(_) => return false,
        None => v,
    };
    !release.is_empty() && !release.contains([',', '*', ' ', '<', '>', '!', '~', '='])
}

fn looks_like_path(name: &str, rest: &str) -> bool {
    name.starts_with('.')
        || rest.starts_with('/')
        || name.ends_with(".whl")
        || rest.ends_with(".whl")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/lockfiles");

    fn fixture(path: &str) -> String {
        let full = format!("{DIR}/{path}");
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn pinned(list: &[Package]) -> Vec<(String, String)> {
        list.iter()
            .filter(|p| p.unassessable.is_none())
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect()
    }

    #[test]
    fn requirements_pins_and_unpinned_lines() {
        let list = requirements(&fixture("requirements/scalibr--with-versions/with_versions.txt"))
            .expect("ok");
        let got = pinned(&list);
        for want in [
            ("nltk", "3.2.2"),
            ("qwerty", "0.1"),
            ("under_score", "1.3"),
            ("pkg.dot.name", "5.0.0"),
            ("yolo", "1.0"),
        ] {
            assert!(got.contains(&(want.0.to_string(), want.1.to_string())), "{want:?} {got:?}");
        }
        assert!(list.iter().any(|p| p.name == "asdf" && p.unassessable.is_some()));
        assert!(list.iter().any(|p| p.name == "newspaper3k" && p.unassessable.is_some()));
        let example =
            requirements(&fixture("requirements/scalibr--example/example.txt")).expect("ok");
        assert_eq!(pinned(&example), vec![("docopt".to_string(), "0.6.1".to_string())]);
        assert!(example.iter().any(|p| p.name == "urllib3"
            && p.unassessable.as_ref().is_some_and(|u| u.reason == "direct url")));
        let image =
            requirements(&fixture("requirements/scanner--image-python-fixture/requirements.txt"))
                .expect("ok");
        assert!(pinned(&image).contains(&("Flask".to_string(), "0.12.2".to_string())));
    }

    #[test]
    fn an_epoch_pin_is_one_version_and_a_list_is_not() {
        let text = "epoch==1!1.0\nlist==1.0,!=1.1\nbang==!1\nnot==1.0; python_version>'3'\n";
        let list = requirements(text).expect("ok");
        let pinned = pinned(&list);
        assert_eq!(
            pinned,
            [("epoch".to_string(), "1!1.0".to_string()), ("not".to_string(), "1.0".to_string())]
        );
        let unpinned: Vec<String> =
            list.iter().filter(|p| p.unassessable.is_some()).map(|p| p.name.clone()).collect();
        assert_eq!(unpinned, ["list", "bang"]);
    }

    fn read_disk(path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }

    #[test]
    fn includes_are_followed_relative_to_the_file_once_and_constraints_pin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            path
        };
        let top = write(
            "requirements.txt",
            "-r common/base.txt\n--constraint=constraints.txt\nflask\n-r missing.txt\n\
             -r https://example.invalid/remote.txt\n-e git+https://example.invalid/x.git#egg=x\n\
             requests==2.20.0 \\\n    --hash=sha256:0123\n",
        );
        // base.txt is relative to common/, and includes the top file again (a cycle).
        write("common/base.txt", "django==1.11.29\n-r ../requirements.txt\n-rmore.txt\n");
        write("common/more.txt", "idna==2.7\n");
        write("constraints.txt", "Flask==0.12.2\nnot-required==1.0\n");
        let text = read_disk(&top).expect("read");
        let list = requirements_file(&top, &text, &read_disk).expect("ok");
        let got = pinned(&list);
        for want in
            [("django", "1.11.29"), ("idna", "2.7"), ("flask", "0.12.2"), ("requests", "2.20.0")]
        {
            assert!(got.contains(&(want.0.to_string(), want.1.to_string())), "{want:?} {got:?}");
        }
        assert_eq!(got.len(), 4, "each file once; a constraint alone installs nothing: {got:?}");
        let reasons: Vec<&str> = list
            .iter()
            .filter_map(|p| p.unassessable.as_ref())
            .map(|u| u.reason.as_str())
            .collect();
        assert_eq!(
            reasons,
            vec!["included file unreadable", "remote include not fetched", "editable"]
        );
        let missing = list
            .iter()
            .filter_map(|p| p.unassessable.as_ref())
            .find(|u| u.reason == "included file unreadable")
            .expect("missing");
        assert!(missing.detail["included_at"].ends_with("requirements.txt:4"), "{missing:?}");
        assert!(missing.detail["detail"].contains("missing.txt"), "{missing:?}");
    }

    #[test]
    fn include_chains_stop_at_the_depth_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..=MAX_INCLUDE_DEPTH + 1 {
            let text = format!("pkg{i}==1.0\n-r r{}.txt\n", i + 1);
            std::fs::write(dir.path().join(format!("r{i}.txt")), text).expect("write");
        }
        let top = dir.path().join("r0.txt");
        let text = read_disk(&top).expect("read");
        let list = requirements_file(&top, &text, &read_disk).expect("ok");
        assert_eq!(pinned(&list).len(), MAX_INCLUDE_DEPTH + 1);
        let last = list.last().and_then(|p| p.unassessable.as_ref()).expect("limit");
        assert_eq!(last.reason, "include depth limit");
    }

    #[test]
    fn poetry_versions_groups_and_git() {
        let v2 = poetry(&fixture("poetry/scalibr--multiple-packages-v2/multiple-packages.v2.lock"))
            .expect("ok");
        let redis = v2.iter().find(|p| p.name == "redis").expect("redis");
        assert_eq!(redis.version, "5.2.1");
        assert!(v2.iter().any(|p| p.name == "factory-boy" && p.dev == Some(true)));
        let git = poetry(&fixture("poetry/scalibr--source-git/source-git.lock")).expect("ok");
        let u = git[0].unassessable.as_ref().expect("git");
        assert_eq!(u.reason, "git");
        assert_eq!(u.detail["commit"], "cd66602cd29f61a2d2e7fb995fef1e61708c034d");
        assert!(poetry("[[package]\n").is_err());
    }

    #[test]
    fn pipfile_sections_and_editable_git() {
        let list = pipfile(&fixture("pipfile/scalibr--multiple-packages/multiple-packages.json"))
            .expect("ok");
        assert!(list.iter().any(|p| p.dev == Some(true)));
        assert!(list.iter().any(|p| p.dev == Some(false)));
        let none = pipfile(&fixture("pipfile/scalibr--no-version/no-version.json")).expect("ok");
        assert_eq!(none.len(), 2);
        assert!(none.iter().all(|p| p.unassessable.as_ref().is_some_and(|u| u.reason == "git")));
        assert!(pipfile("{").is_err());
    }
}
