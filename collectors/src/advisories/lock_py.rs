//! Readers for poetry.lock, Pipfile.lock and pinned requirements.txt files.
//!
//! Each turns one file's text into PyPI [`Package`]s. Names are kept as written (matching
//! normalises them with PEP 503). Git, directory, file and URL sources, editable entries,
//! entries without a version and requirements that are not pinned to one version (`>=`,
//! `==1.*`, `name @ url`, bare names) are unassessable with the reason. Included files
//! (`-r`, `-c`) are not followed. Neighbours: `lockfile` (model), `lock_js`, `lock_misc`.

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

/// requirements.txt: `name==version` and `name===version` are pinned; anything else is listed
/// as unassessable.
pub fn requirements(text: &str) -> Result<Vec<Package>, LockfileError> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut out = Vec::new();
    for raw in joined.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() || line.starts_with('-') {
            // FIXME(advisories-requirements-include): -r/-c files are not followed.
            continue;
        }
        out.push(requirement(line));
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    if line.starts_with('#') {
        return "";
    }
    line.find(" #").map_or(line, |at| &line[..at])
}

fn requirement(line: &str) -> Package {
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
        Some(v) if !v.is_empty() && !v.contains([',', '*', ' ', '<', '>', '!', '~']) => {
            Package::registry(PYPI, name, v)
        }
        _ => Package::registry(PYPI, name, "").not_registry("not pinned", &[("spec", rest)]),
    }
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
