//! Readers for composer.lock, Gemfile.lock, go.mod, go.sum and Cargo.lock.
//!
//! Each turns one file's text into [`Package`]s (see `lockfile` for the model). Branch
//! versions (`dev-main`, `1.x-dev`), path and git sources, local `replace` targets and
//! Cargo packages without a `source` are returned as unassessable with the evidence that
//! explains why. Neighbours: `lock_js`, `lock_py`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::lockfile::{Format, LockfileError, Package};
use super::version::Ecosystem;

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// composer.lock: `packages` (dev = false) and `packages-dev` (dev = true).
pub fn composer(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::Composer, m);
    let root: Value = serde_json::from_str(text).map_err(|e| fail(format!("invalid json: {e}")))?;
    if !root.is_object() || root.get("packages").is_none() {
        return Err(fail("no packages array".to_string()));
    }
    let mut out = Vec::new();
    for (key, dev) in [("packages", false), ("packages-dev", true)] {
        let Some(list) = root.get(key) else { continue };
        let list = list.as_array().ok_or_else(|| fail(format!("{key} is not an array")))?;
        for (index, entry) in list.iter().enumerate() {
            let name = str_at(entry, "/name");
            let version = str_at(entry, "/version");
            if name.is_empty() {
                return Err(fail(format!("{key}[{index}] has no name")));
            }
            out.push(composer_package(entry, name, version).dev(Some(dev)));
        }
    }
    Ok(out)
}

fn composer_package(entry: &Value, name: &str, version: &str) -> Package {
    let package = Package::registry(Ecosystem::Packagist, name, version);
    let reference = str_at(entry, "/source/reference");
    let reference = if reference.is_empty() { str_at(entry, "/dist/reference") } else { reference };
    let time = str_at(entry, "/time");
    let dist_type = str_at(entry, "/dist/type");
    if dist_type == "path" || str_at(entry, "/source/type") == "path" {
        let url = str_at(entry, "/dist/url");
        return package.not_registry("path", &[("url", url)]);
    }
    let lower = version.to_ascii_lowercase();
    if lower.starts_with("dev-") || lower.ends_with("-dev") || lower.ends_with(".x-dev") {
        let url = str_at(entry, "/source/url");
        return package.not_registry(
            format!("branch version {version}"),
            &[("reference", reference), ("time", time), ("url", url)],
        );
    }
    if version.is_empty() {
        return package.not_registry("no version", &[]);
    }
    package
}

/// Gemfile.lock: GEM specs are registry gems, GIT and PATH specs are not; DEPENDENCIES marks
/// direct gems. A platform suffix (`1.13.3-x86_64-linux`) is split off the version.
pub fn gemfile(text: &str) -> Result<Vec<Package>, LockfileError> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut source: BTreeMap<String, String> = BTreeMap::new();
    let mut direct = BTreeSet::new();
    let mut seen_specs = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            section = line.trim().to_string();
            source.clear();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let body = line.trim();
        match (section.as_str(), indent) {
            ("GEM" | "GIT" | "PATH", 2) => {
                if let Some((key, value)) = body.split_once(": ") {
                    source.insert(key.to_string(), value.to_string());
                }
            }
            ("GEM" | "GIT" | "PATH", 4) => {
                seen_specs = true;
                out.push(gem_spec(&section, body, &source)?);
            }
            ("DEPENDENCIES", 2) => {
                let name = body.split([' ', '!']).next().unwrap_or("");
                direct.insert(name.to_string());
            }
            _ => {}
        }
    }
    if !seen_specs && !text.contains("GEM") {
        return Err(LockfileError::new(Format::GemfileLock, "no GEM, GIT or PATH section"));
    }
    for package in &mut out {
        package.direct = Some(direct.contains(&package.name));
    }
    Ok(out)
}

fn gem_spec(
    section: &str,
    body: &str,
    source: &BTreeMap<String, String>,
) -> Result<Package, LockfileError> {
    let bad = || LockfileError::new(Format::GemfileLock, format!("bad spec line {body:?}"));
    let (name, rest) = body.split_once(" (").ok_or_else(bad)?;
    let full = rest.strip_suffix(')').ok_or_else(bad)?;
    // A platform suffix (`-x86_64-linux`) is not part of the version: gem versions have no `-`.
    let version = full.split_once('-').map_or(full, |(version, _platform)| version);
    let package = Package::registry(Ecosystem::RubyGems, name, version);
    let get = |k: &str| source.get(k).map_or("", String::as_str);
    Ok(match section {
        "GIT" => package.not_registry(
            "git",
            &[("remote", get("remote")), ("revision", get("revision")), ("branch", get("branch"))],
        ),
        "PATH" => package.not_registry("path", &[("remote", get("remote"))]),
        _ => package,
    })
}

/// go.mod: `require` lines (single or block); `// indirect` marks transitive modules.
/// `replace` with a local path makes the module unassessable; a module replacement is followed.
pub fn gomod(text: &str) -> Result<Vec<Package>, LockfileError> {
    let mut requires: Vec<(String, String, bool)> = Vec::new();
    let mut replaces: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut block = "";
    for (index, raw) in text.lines().enumerate() {
        let (code, comment) = raw.split_once("//").unwrap_or((raw, ""));
        let indirect = comment.trim() == "indirect" || comment.trim().starts_with("indirect;");
        let line = code.trim();
        if line.is_empty() {
            continue;
        }
        if line == ")" {
            block = "";
            continue;
        }
        let (verb, rest) = if block.is_empty() {
            let mut parts = line.splitn(2, char::is_whitespace);
            let verb = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("").trim();
            if rest == "(" {
                block = match verb {
                    "require" => "require",
                    "replace" => "replace",
                    _ => "other",
                };
                continue;
            }
            (verb, rest)
        } else {
            (block, line)
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match verb {
            "require" => {
                let [path, version] = fields[..] else {
                    let message = format!("line {}: bad require {line:?}", index + 1);
                    return Err(LockfileError::new(Format::GoMod, message));
                };
                requires.push((unquote(path), version.to_string(), indirect));
            }
            "replace" => {
                let arrow = fields.iter().position(|f| *f == "=>");
                if let Some(arrow) = arrow.filter(|a| *a >= 1) {
                    let target = fields.get(arrow + 1).map_or("", |s| s);
                    let target_version = fields.get(arrow + 2).map_or("", |s| s);
                    replaces
                        .insert(unquote(fields[0]), (unquote(target), target_version.to_string()));
                }
            }
            _ => {}
        }
    }
    Ok(requires
        .into_iter()
        .map(|(path, version, indirect)| go_package(path, version, indirect, &replaces))
        .collect())
}

fn unquote(text: &str) -> String {
    text.trim_matches('"').to_string()
}

fn go_package(
    path: String,
    version: String,
    indirect: bool,
    replaces: &BTreeMap<String, (String, String)>,
) -> Package {
    let package = Package::registry(Ecosystem::Go, &path, &version).direct(Some(!indirect));
    match replaces.get(&path) {
        Some((target, _)) if target.starts_with('.') || target.starts_with('/') => {
            package.not_registry("replaced by local path", &[("replacement", target)])
        }
        Some((target, target_version)) if !target_version.is_empty() => {
            Package::registry(Ecosystem::Go, target, target_version).direct(Some(!indirect))
        }
        _ => package,
    }
}

/// go.sum on its own: the highest version listed for each module (lines for `/go.mod` only
/// are skipped). This can name a version minimal version selection did not pick; with the
/// module's go.mod at hand use [`gosum_with_mod`].
pub fn gosum(text: &str) -> Result<Vec<Package>, LockfileError> {
    Ok(gosum_highest(text)?
        .into_iter()
        .map(|(m, v)| Package::registry(Ecosystem::Go, &m, &v))
        .collect())
}

fn gosum_highest(text: &str) -> Result<BTreeMap<String, String>, LockfileError> {
    let mut best: BTreeMap<String, String> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [module, version, _hash] = fields[..] else {
            let message = format!("line {}: expected module, version and hash", index + 1);
            return Err(LockfileError::new(Format::GoSum, message));
        };
        if version.ends_with("/go.mod") {
            continue;
        }
        let newer = match best.get(module) {
            None => true,
            Some(old) => {
                super::version::compare(Ecosystem::Go, version, old).is_ok_and(|o| o.is_gt())
            }
        };
        if newer {
            best.insert(module.to_string(), version.to_string());
        }
    }
    Ok(best)
}

/// go.sum next to its go.mod: the versions go.mod selects win. From `go 1.17` on, go.mod
/// lists every module of the build, so a go.sum module it does not name was not selected and
/// is listed as unassessable (`not selected by go.mod`) instead of being matched; for older
/// go.mod files such a module keeps its highest go.sum version.
pub fn gosum_with_mod(sum: &str, gomod_text: &str) -> Result<Vec<Package>, LockfileError> {
    let highest = gosum_highest(sum)?;
    let selected = gomod(gomod_text)
        .map_err(|e| LockfileError::new(Format::GoSum, format!("its go.mod: {}", e.message)))?;
    let complete = go_directive(gomod_text).is_some_and(|(major, minor)| (major, minor) >= (1, 17));
    let named: BTreeSet<&str> = selected.iter().map(|p| p.name.as_str()).collect();
    let mut out: Vec<Package> = Vec::new();
    for (module, version) in &highest {
        if named.contains(module.as_str()) {
            continue;
        }
        let package = Package::registry(Ecosystem::Go, module, version);
        out.push(if complete {
            package.not_registry("not selected by go.mod", &[("go_sum_version", version)])
        } else {
            package
        });
    }
    Ok(selected.into_iter().chain(out).collect())
}

/// The `go` directive of a go.mod as (major, minor).
fn go_directive(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().map(str::trim).find(|l| l.starts_with("go "))?;
    let mut parts = line[3..].trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// Cargo.lock v1–v4: registry packages have a `registry+`/`sparse+` source; git sources and
/// packages without a source (path, workspace) are unassessable.
pub fn cargo(text: &str) -> Result<Vec<Package>, LockfileError> {
    let fail = |m: String| LockfileError::new(Format::CargoLock, m);
    let root: toml::Value = toml::from_str(text).map_err(|e| fail(format!("invalid toml: {e}")))?;
    let list = match root.get("package") {
        Some(toml::Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(fail("package is not an array of tables".to_string())),
        None => &[],
    };
    let mut out = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let get = |k: &str| entry.get(k).and_then(toml::Value::as_str).unwrap_or("");
        let (name, version, source) = (get("name"), get("version"), get("source"));
        if name.is_empty() || version.is_empty() {
            return Err(fail(format!("package[{index}] lacks name or version")));
        }
        let package = Package::registry(Ecosystem::CratesIo, name, version);
        out.push(if source.starts_with("registry+") || source.starts_with("sparse+") {
            package
        } else if let Some(git) = source.strip_prefix("git+") {
            let commit = git.rsplit_once('#').map_or("", |(_, c)| c);
            package.not_registry("git", &[("source", git), ("commit", commit)])
        } else if source.is_empty() {
            package.not_registry("path or workspace crate (no source)", &[])
        } else {
            package.not_registry("unknown source", &[("source", source)])
        });
    }
    Ok(out)
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
        list.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn composer_reads_packages_and_dev_and_flags_branches() {
        let list = composer(&fixture("composer/scanner--locks-many-with-insecure/composer.lock"))
            .expect("parses");
        let fly = find(&list, "league/flysystem");
        assert_eq!(fly.version, "1.0.8");
        assert!(fly.unassessable.is_none());
        let dup =
            composer(&fixture("composer/scalibr--duplicate-packages/duplicate-packages.json"))
                .expect("parses");
        let dev: Vec<_> = dup.iter().filter(|p| p.version == "3.0.0-dev").collect();
        assert_eq!(dev.len(), 1, "{dup:?}");
        assert_eq!(
            dev[0].unassessable.as_ref().map(|u| u.reason.as_str()),
            Some("branch version 3.0.0-dev")
        );
    }

    #[test]
    fn adv08_composer_dev_main_is_unassessable_with_reference_and_time() {
        let text = r#"{"packages":[{"name":"rhukster/dom-sanitizer","version":"dev-main",
          "source":{"type":"git","url":"https://git.example.test/dom-sanitizer.git",
          "reference":"0794d8de5e6a1f5c2b3e4d9a8f7c6b5a4d3e2f10"},
          "time":"2025-11-30T10:00:00+00:00"}],
          "packages-dev":[{"name":"a/b","version":"1.x-dev"}]}"#;
        let list = composer(text).expect("parses");
        let u = list[0].unassessable.as_ref().expect("unassessable");
        assert_eq!(u.reason, "branch version dev-main");
        assert_eq!(u.detail["reference"], "0794d8de5e6a1f5c2b3e4d9a8f7c6b5a4d3e2f10");
        assert_eq!(u.detail["time"], "2025-11-30T10:00:00+00:00");
        assert_eq!(list[1].dev, Some(true));
        assert!(list[1].unassessable.is_some());
    }

    #[test]
    fn corrupt_composer_is_an_error() {
        assert!(composer("{\"packages\": [").is_err());
        assert!(composer("[]").is_err());
    }

    #[test]
    fn gemfile_sections_platforms_and_direct() {
        let list = gemfile(&fixture("gemfile/scalibr--rails/rails.lock")).expect("parses");
        let noko = find(&list, "nokogiri");
        assert_eq!(noko.version, "1.13.3");
        let rack = find(&list, "rack");
        assert_eq!(rack.version, "2.2.3");
        assert_eq!(find(&list, "rails").direct, Some(true));
        let git = gemfile(&fixture("gemfile/scalibr--has-git-gem/has-git-gem.lock")).expect("ok");
        let unassessable: Vec<_> = git.iter().filter(|p| p.unassessable.is_some()).collect();
        assert!(!unassessable.is_empty());
        assert!(unassessable.iter().all(|p| p
            .unassessable
            .as_ref()
            .is_some_and(|u| u.reason == "git" && u.detail.contains_key("revision"))));
        let local =
            gemfile(&fixture("gemfile/scalibr--has-local-gem/has-local-gem.lock")).expect("ok");
        assert!(local.iter().any(|p| p.unassessable.as_ref().is_some_and(|u| u.reason == "path")));
    }

    #[test]
    fn gosum_prefers_the_versions_go_mod_selects() {
        let sum = "github.com/gogo/protobuf v1.3.1 h1:a=\n\
                   github.com/gogo/protobuf v1.3.2 h1:b=\n\
                   github.com/gogo/protobuf v1.3.2/go.mod h1:c=\n\
                   golang.org/x/text v0.3.0 h1:d=\n";
        let modern = "module m\n\ngo 1.21\n\nrequire github.com/gogo/protobuf v1.3.1\n";
        let list = gosum_with_mod(sum, modern).expect("ok");
        let gogo = find(&list, "github.com/gogo/protobuf");
        assert_eq!(gogo.version, "v1.3.1", "go.mod's selection, not go.sum's highest");
        let text = find(&list, "golang.org/x/text");
        assert_eq!(
            text.unassessable.as_ref().expect("not selected").reason,
            "not selected by go.mod"
        );
        let old = modern.replace("go 1.21", "go 1.16");
        let list = gosum_with_mod(sum, &old).expect("ok");
        assert!(find(&list, "golang.org/x/text").unassessable.is_none(), "go.mod may be partial");
        assert_eq!(find(&gosum(sum).expect("ok"), "github.com/gogo/protobuf").version, "v1.3.2");
        assert!(gosum_with_mod(sum, "require (\nbroken\n)\n").is_err());
    }

    #[test]
    fn gomod_requires_indirect_and_local_replace() {
        let list = gomod(&fixture("gomod/scanner--call-analysis-go-project/go.mod")).expect("ok");
        assert_eq!(list.len(), 3, "{list:?}");
        assert!(list.iter().any(|p| p.direct == Some(false)));
        let replaced =
            gomod(&fixture("gomod/scalibr--replace-local/replace-local.mod")).expect("ok");
        assert!(replaced.iter().any(|p| p
            .unassessable
            .as_ref()
            .is_some_and(|u| u.reason == "replaced by local path")));
        let adv12 = gomod(&fixture("../cases/adv12.go.mod")).expect("ok");
        assert_eq!(adv12.len(), 2);
        assert_eq!(adv12[1].version, "v25.0.6+incompatible");
        assert!(gomod("require (\n a\n)\n").is_err());
    }

    #[test]
    fn cargo_sources() {
        let list = cargo(&fixture("cargo/scanner--deprecated-vuln/Cargo.lock")).expect("ok");
        assert_eq!(find(&list, "net2").version, "0.2.33");
        assert!(list.iter().any(|p| p.unassessable.is_some()));
        let build = cargo(&fixture(
            "cargo/scalibr--package-with-build-string/package-with-build-string.lock",
        ))
        .expect("ok");
        assert!(build.iter().any(|p| p.version == "0.10.2+wasi-snapshot-preview1"));
        assert!(cargo("[[package]]\nname = 1").is_err());
        let git = cargo(
            "[[package]]\nname=\"a\"\nversion=\"1.0.0\"\nsource=\"git+https://x.test/a#abc\"\n",
        )
        .expect("ok");
        assert_eq!(git[0].unassessable.as_ref().map(|u| u.detail["commit"].as_str()), Some("abc"));
    }
}
