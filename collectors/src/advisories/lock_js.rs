//! Readers for package-lock.json (v1, v2, v3), yarn.lock (classic and berry) and
//! pnpm-lock.yaml (v5 to v9).
//!
//! Each turns one file's text into npm [`Package`]s. Aliases resolve to the registry name
//! (`npm:string-width@4.2.0`, `node_modules/x-cjs` with `name`). Links, workspaces, `file:`
//! and git sources are unassessable with the link target or commit as evidence. Neighbours:
//! `lockfile` (model), `lock_misc`, `lock_py`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::lockfile::{Format, LockfileError, Package};
use super::version::Ecosystem;

const NPM: Ecosystem = Ecosystem::Npm;

/// Why a resolved URL or version spec is not a registry package, if it is not.
fn non_registry(spec: &str) -> Option<&'static str> {
    let s = spec.trim();
    let git_prefixes = ["git+", "git:", "git@", "ssh:", "github:", "gitlab:", "bitbucket:"];
    let git_markers = ["codeload.github.com", ".git#", "#commit="];
    if git_prefixes.iter().any(|p| s.starts_with(p)) || git_markers.iter().any(|m| s.contains(m)) {
        Some("git")
    } else if s.starts_with("file:") || s.starts_with("link:") || s.starts_with("portal:") {
        Some("path")
    } else if s.starts_with("workspace:") {
        Some("workspace")
    } else {
        None
    }
}

fn commit_of(spec: &str) -> &str {
    let tail = spec.rsplit_once('#').map_or("", |(_, t)| t);
    tail.strip_prefix("commit=").or_else(|| tail.strip_prefix("commit:")).unwrap_or(tail)
}

/// package-lock.json / npm-shrinkwrap.json, any lockfileVersion.
pub fn npm(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::NpmLock, m);
    let root: Value = serde_json::from_str(text).map_err(|e| fail(format!("invalid json: {e}")))?;
    if let Some(packages) = root.get("packages").and_then(Value::as_object) {
        return Ok(npm_packages(&root, packages));
    }
    match root.get("dependencies") {
        Some(Value::Object(deps)) => {
            let mut out = Vec::new();
            npm_v1(deps, &mut out);
            Ok(out)
        }
        Some(_) => Err(fail("dependencies is not an object".to_string())),
        None if root.is_object() => Ok(Vec::new()),
        None => Err(fail("not a package-lock object".to_string())),
    }
}

fn npm_direct_names(root: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for key in ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] {
        if let Some(map) = root.pointer(&format!("/packages//{key}")).and_then(Value::as_object) {
            names.extend(map.keys().cloned());
        }
    }
    names
}

fn npm_packages(root: &Value, packages: &serde_json::Map<String, Value>) -> Vec<Package> {
    let direct = npm_direct_names(root);
    let mut out = Vec::new();
    for (key, entry) in packages {
        if key.is_empty() {
            continue;
        }
        let get = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
        let dir_name = key.rsplit_once("node_modules/").map_or(key.as_str(), |(_, n)| n);
        let name = if get("name").is_empty() { dir_name } else { get("name") };
        let dev = entry.get("dev").and_then(Value::as_bool).or(Some(false));
        let top_level = key == &format!("node_modules/{dir_name}");
        let (name, version) = match get("version").strip_prefix("npm:") {
            Some(alias) => split_name_version(alias).unwrap_or((name, alias)),
            None => (name, get("version")),
        };
        let package = Package::registry(NPM, name, version)
            .dev(dev)
            .direct(Some(top_level && direct.contains(dir_name)));
        let resolved = get("resolved");
        out.push(if entry.get("link").and_then(Value::as_bool) == Some(true) {
            package.not_registry("link", &[("target", resolved)])
        } else if let Some(kind) = non_registry(resolved).or_else(|| non_registry(get("version"))) {
            let commit = commit_of(resolved);
            package.not_registry(kind, &[("resolved", resolved), ("commit", commit)])
        } else if !key.starts_with("node_modules/") && !key.contains("/node_modules/") {
            package.not_registry("workspace", &[("path", key)])
        } else if get("version").is_empty() {
            package.not_registry("no version", &[("resolved", resolved)])
        } else {
            package
        });
    }
    out
}

fn npm_v1(deps: &serde_json::Map<String, Value>, out: &mut Vec<Package>) {
    for (name, entry) in deps {
        let version = entry.get("version").and_then(Value::as_str).unwrap_or("");
        let dev = entry.get("dev").and_then(Value::as_bool).or(Some(false));
        let (real_name, real_version) = match version.strip_prefix("npm:") {
            Some(alias) => split_name_version(alias).unwrap_or((name.as_str(), alias)),
            None => (name.as_str(), version),
        };
        let package = Package::registry(NPM, real_name, real_version).dev(dev);
        out.push(match non_registry(version) {
            Some(kind) => package.not_registry(kind, &[("version", version)]),
            None if version.is_empty() => package.not_registry("no version", &[]),
            None => package,
        });
        if let Some(Value::Object(nested)) = entry.get("dependencies") {
            npm_v1(nested, out);
        }
    }
}

/// Splits `name@version` where the name may be scoped (`@scope/name@1.0.0`).
fn split_name_version(text: &str) -> Option<(&str, &str)> {
    let (at, _) = text.char_indices().skip(1).find(|(_, c)| *c == '@')?;
    Some((&text[..at], &text[at + 1..]))
}

/// yarn.lock: berry (YAML with `__metadata`) or classic (v1).
pub fn yarn(text: &str) -> Result<Vec<Package>, LockfileError> {
    if text.lines().any(|l| l.starts_with("__metadata:")) {
        yarn_berry(text)
    } else {
        yarn_classic(text)
    }
}

fn yarn_classic(text: &str) -> Result<Vec<Package>, LockfileError> {
    let mut out = Vec::new();
    let mut header: Option<String> = None;
    let mut version = String::new();
    let mut resolved = String::new();
    let flush = |header: &Option<String>, version: &str, resolved: &str, out: &mut Vec<_>| {
        if let Some(h) = header {
            out.push(yarn_classic_package(h, version, resolved));
        }
    };
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            flush(&header, &version, &resolved, &mut out);
            let Some(h) = line.strip_suffix(':') else {
                let message = format!("line {}: expected an entry header, got {line:?}", index + 1);
                return Err(LockfileError::new(Format::YarnLock, message));
            };
            header = Some(h.to_string());
            version.clear();
            resolved.clear();
        } else if line.starts_with("  ") && !line.starts_with("    ") {
            let (key, value) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let value = value.trim().trim_matches('"').to_string();
            match key {
                "version" => version = value,
                "resolved" => resolved = value,
                _ => {}
            }
        }
    }
    flush(&header, &version, &resolved, &mut out);
    Ok(out)
}

fn yarn_classic_package(header: &str, version: &str, resolved: &str) -> Package {
    let first = header.split(", ").next().unwrap_or(header).trim().trim_matches('"');
    let (name, spec) = split_name_version(first).unwrap_or((first, ""));
    let name = match spec.strip_prefix("npm:") {
        Some(alias) => split_name_version(alias).map_or(name, |(n, _)| n),
        None => name,
    };
    let package = Package::registry(NPM, name, version);
    match non_registry(resolved).or_else(|| non_registry(spec)) {
        Some(kind) => {
            let source = if resolved.is_empty() { spec } else { resolved };
            let commit = commit_of(source);
            package.not_registry(kind, &[("resolved", source), ("commit", commit)])
        }
        None => package,
    }
}

/// `patch:name@npm%3A1.2.3#…` → `name` when the patched package comes from the registry.
fn patched_registry_package(protocol: &str) -> Option<String> {
    let inner = protocol.strip_prefix("patch:")?.split('#').next()?;
    let inner = inner.replace("%3A", ":").replace("%40", "@").replace("%2F", "/");
    let (name, source) = split_name_version(&inner)?;
    source.starts_with("npm:").then(|| name.to_string())
}

fn yarn_berry(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::YarnLock, m);
    let root: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| fail(format!("invalid yaml: {e}")))?;
    let map = root.as_mapping().ok_or_else(|| fail("not a mapping".to_string()))?;
    let mut out = Vec::new();
    for (key, entry) in map {
        let key = key.as_str().unwrap_or("");
        if key == "__metadata" {
            continue;
        }
        let get = |k: &str| entry.get(k).and_then(serde_norway::Value::as_str).unwrap_or("");
        let version = match entry.get("version") {
            Some(serde_norway::Value::Number(n)) => n.to_string(),
            _ => get("version").to_string(),
        };
        let resolution = get("resolution");
        let (name, protocol) = split_name_version(resolution)
            .ok_or_else(|| fail(format!("{key}: resolution {resolution:?} has no name")))?;
        let package = Package::registry(NPM, name, &version);
        out.push(if protocol.starts_with("npm:") {
            package
        } else if let Some(kind) = non_registry(protocol) {
            let commit = commit_of(protocol);
            package.not_registry(kind, &[("resolution", resolution), ("commit", commit)])
        } else if let Some(inner) = patched_registry_package(protocol) {
            // A registry package with a local patch (yarn applies `typescript`, `resolve` and
            // `fsevents` patches itself): the registry version is what advisories describe.
            let mut p = package;
            p.name = inner;
            p
        } else {
            package.not_registry("non-registry source", &[("resolution", resolution)])
        });
    }
    Ok(out)
}

/// pnpm-lock.yaml, lockfileVersion 5.x (`/name/1.0.0_peer`), 6 (`/name@1.0.0(peer)`) and 9
/// (`name@1.0.0`, with `snapshots`).
pub fn pnpm(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::PnpmLock, m);
    let root: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| fail(format!("invalid yaml: {e}")))?;
    if root.get("lockfileVersion").is_none() {
        return Err(fail("no lockfileVersion".to_string()));
    }
    let Some(packages) = root.get("packages").and_then(serde_norway::Value::as_mapping) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (key, entry) in packages {
        let key = key.as_str().unwrap_or("");
        let (name, version) =
            pnpm_key(key).ok_or_else(|| fail(format!("bad package key {key:?}")))?;
        let dev = entry.get("dev").and_then(serde_norway::Value::as_bool);
        let resolution = entry.get("resolution");
        let tarball = resolution
            .and_then(|r| r.get("tarball"))
            .and_then(serde_norway::Value::as_str)
            .unwrap_or("");
        let repo = resolution
            .and_then(|r| r.get("repo"))
            .and_then(serde_norway::Value::as_str)
            .unwrap_or("");
        let entry_name = entry.get("name").and_then(serde_norway::Value::as_str);
        let entry_version = entry.get("version").and_then(serde_norway::Value::as_str);
        let package =
            Package::registry(NPM, entry_name.unwrap_or(name), entry_version.unwrap_or(version))
                .dev(dev);
        out.push(if !repo.is_empty() {
            let commit = resolution
                .and_then(|r| r.get("commit"))
                .and_then(serde_norway::Value::as_str)
                .unwrap_or("");
            package.not_registry("git", &[("repo", repo), ("commit", commit)])
        } else if let Some(kind) = non_registry(version).or_else(|| non_registry(tarball)) {
            package.not_registry(kind, &[("source", version), ("tarball", tarball)])
        } else if !tarball.is_empty() && !tarball.contains("/-/") {
            package.not_registry("tarball", &[("tarball", tarball)])
        } else {
            package
        });
    }
    Ok(out)
}

fn pnpm_key(key: &str) -> Option<(&str, &str)> {
    let key = key.split('(').next().unwrap_or(key);
    if let Some(rest) = key.strip_prefix('/') {
        // v6 uses `@` before the version; v5 uses `/`.
        if let Some((name, version)) = split_name_version(rest) {
            if !name.contains('/') || name.starts_with('@') && name.matches('/').count() == 1 {
                return Some((name, version));
            }
        }
        let (name, version) = rest.rsplit_once('/')?;
        let version = version.split('_').next().unwrap_or(version);
        return Some((name, version));
    }
    split_name_version(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/lockfiles");

    fn fixture(path: &str) -> String {
        let full = format!("{DIR}/{path}");
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn find<'a>(list: &'a [Package], name: &str) -> &'a Package {
        list.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} missing: {list:?}"))
    }

    fn reason(p: &Package) -> Option<&str> {
        p.unassessable.as_ref().map(|u| u.reason.as_str())
    }

    #[test]
    fn npm_v1_minimal_nested_and_alias() {
        let list = npm(&fixture("package-lock-v1/scanner--locks-insecure/my-package-lock.json"))
            .expect("ok");
        assert_eq!(find(&list, "ansi-html").version, "0.0.1");
        let nested = npm(&fixture(
            "package-lock-v1/scalibr--nested-dependencies-dup/nested-dependencies-dup.v1.json",
        ))
        .expect("ok");
        assert!(nested.len() > 50, "{}", nested.len());
        let alias = npm(&fixture("package-lock-v1/scalibr--alias/alias.v1.json")).expect("ok");
        assert!(alias.iter().any(|p| p.name == "string-width" && p.version == "4.2.0"));
    }

    #[test]
    fn npm_v2_v3_aliases_links_and_dev() {
        let alias = npm(&fixture("package-lock-v2/scalibr--alias/alias.v2.json")).expect("ok");
        assert!(alias.iter().all(|p| p.name != "string-width-cjs"));
        let links =
            npm(&fixture("package-lock-v2/scalibr--npmsource-link/package-lock.json")).expect("ok");
        assert!(links.iter().any(|p| reason(p) == Some("link")));
        assert!(links.iter().any(|p| reason(p) == Some("git")));
        let tree = npm(&fixture("package-lock-v2/scanner--fix-in-place-npm/package-lock.json"))
            .expect("ok");
        assert_eq!(find(&tree, "semver").version, "4.3.6");
        let bundled = npm(&fixture(
            "package-lock-v3/scalibr--bundled-dependencies/bundled-dependencies.v3.json",
        ))
        .expect("ok");
        assert!(bundled.iter().any(|p| p.dev == Some(true)));
        assert!(npm("{\"packages\": {").is_err());
    }

    #[test]
    fn adv10_links_workspaces_and_git_are_not_registry_packages() {
        let lock = r#"{"lockfileVersion":3,"packages":{
          "":{"name":"app","version":"1.0.0"},
          "node_modules/@demo/auth":{"resolved":"packages/auth","link":true},
          "packages/auth":{"name":"@demo/auth","version":"0.1.0"}}}"#;
        let list = npm(lock).expect("ok");
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|p| p.name == "@demo/auth" && p.unassessable.is_some()));
        assert_eq!(reason(&list[0]), Some("link"));
        let list = yarn(&fixture("../cases/adv10.yarn.lock")).expect("ok");
        assert_eq!(list[0].name, "net-helper");
        let u = list[0].unassessable.as_ref().expect("git");
        assert_eq!(u.reason, "git");
        assert_eq!(u.detail["commit"], "6f48f578d1c2b3a4e5f60718293a4b5c6d7e8f90");
    }

    #[test]
    fn yarn_classic_and_berry() {
        let v1 = yarn(&fixture("yarn-v1/scanner--locks-insecure/my-yarn.lock")).expect("ok");
        assert_eq!(find(&v1, "ansi-html").version, "0.0.1");
        let commits = yarn(&fixture("yarn-v1/scalibr--commits/commits.v1.lock")).expect("ok");
        assert!(commits.iter().filter(|p| reason(p) == Some("git")).count() >= 3);
        let pre =
            yarn(&fixture("yarn-v1/scalibr--with-prerelease/with-prerelease.v1.lock")).expect("ok");
        assert!(pre.iter().any(|p| p.version == "1.0.0-alpha.37"));
        let aliases =
            yarn(&fixture("yarn-berry/scalibr--with-aliases/with-aliases.v2.lock")).expect("ok");
        assert!(aliases.iter().any(|p| p.name == "ansi-regex" && p.version == "5.0.1"));
        assert_eq!(reason(find(&aliases, "mine")), Some("workspace"));
        let patched = concat!(
            "__metadata:\n  version: 6\n\n",
            "\"typescript@patch:typescript@^4.9.5#~builtin<compat/typescript>\":\n",
            "  version: 4.9.5\n",
            "  resolution: \"typescript@patch:typescript@npm%3A4.9.5",
            "#~builtin<compat/typescript>::version=4.9.5&hash=289587\"\n"
        );
        let list = yarn(patched).expect("ok");
        assert_eq!((list[0].name.as_str(), list[0].version.as_str()), ("typescript", "4.9.5"));
        assert!(list[0].unassessable.is_none());
        let berry = yarn(&fixture("yarn-berry/scalibr--commits/commits.v2.lock")).expect("ok");
        assert!(berry.iter().any(|p| reason(p) == Some("git")));
        assert!(yarn("not a lockfile\n").is_err());
    }

    #[test]
    fn pnpm_v5_v6_v9() {
        let v5 = pnpm(&fixture("pnpm/scalibr--multiple-packages-v5.3/multiple-packages.yaml"))
            .expect("ok");
        assert_eq!(find(&v5, "aws-sdk").version, "2.1087.0");
        let v6 = pnpm(&fixture(
            "pnpm/scalibr--peer-dependencies-advanced-v6/peer-dependencies-advanced-v6.yaml",
        ))
        .expect("ok");
        assert!(v6.iter().any(|p| p.version.starts_with("18.3.0-canary")), "{v6:?}");
        assert_eq!(v6.iter().filter(|p| p.name == "react-dom").count(), 1);
        let v9 = pnpm(&fixture(
            "pnpm/scalibr--peer-dependencies-advanced-v9/peer-dependencies-advanced.v9.yaml",
        ))
        .expect("ok");
        assert_eq!(find(&v9, "@eslint-community/eslint-utils").version, "4.4.0");
        assert!(pnpm("packages: [").is_err());
    }
}
