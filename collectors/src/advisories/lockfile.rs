//! Lockfile formats: detection by file name and the shared package model.
//!
//! Owns [`Format`], [`Package`] and [`parse`], which dispatches to the readers in
//! `lock_js` (npm, yarn, pnpm), `lock_py` (poetry, Pipfile, requirements) and `lock_misc`
//! (Composer, Bundler, Go, Cargo). A reader returns every package it finds: registry packages
//! with a version to compare, and packages that cannot be judged (git, path, link, workspace,
//! branch versions, unpinned requirements) marked [`Unassessable`] with the reason — never
//! dropped and never guessed. A file that cannot be parsed is one [`LockfileError`]. Matching
//! against advisories lives in `findings`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::version::Ecosystem;
use super::{lock_js, lock_misc, lock_py};

/// The lockfile formats this collector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `composer.lock`
    Composer,
    /// `package-lock.json` / `npm-shrinkwrap.json`, v1, v2 and v3.
    NpmLock,
    /// `yarn.lock`, classic (v1) and berry.
    YarnLock,
    /// `pnpm-lock.yaml`, v5 to v9.
    PnpmLock,
    /// `poetry.lock`
    PoetryLock,
    /// `Pipfile.lock`
    PipfileLock,
    /// A pinned `requirements.txt`.
    Requirements,
    /// `Gemfile.lock` / `gems.locked`
    GemfileLock,
    /// `go.mod`
    GoMod,
    /// `go.sum` (used when no go.mod is configured)
    GoSum,
    /// `Cargo.lock`
    CargoLock,
}

impl Format {
    /// The user-facing name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Composer => "composer",
            Format::NpmLock => "npm-lock",
            Format::YarnLock => "yarn-lock",
            Format::PnpmLock => "pnpm-lock",
            Format::PoetryLock => "poetry-lock",
            Format::PipfileLock => "pipfile-lock",
            Format::Requirements => "requirements",
            Format::GemfileLock => "gemfile-lock",
            Format::GoMod => "go-mod",
            Format::GoSum => "go-sum",
            Format::CargoLock => "cargo-lock",
        }
    }

    /// Detects the format from the file name.
    pub fn detect(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        Some(match name {
            "composer.lock" => Format::Composer,
            "package-lock.json" | "npm-shrinkwrap.json" => Format::NpmLock,
            "yarn.lock" => Format::YarnLock,
            "pnpm-lock.yaml" => Format::PnpmLock,
            "poetry.lock" => Format::PoetryLock,
            "Pipfile.lock" => Format::PipfileLock,
            "Gemfile.lock" | "gems.locked" => Format::GemfileLock,
            "go.mod" => Format::GoMod,
            "go.sum" => Format::GoSum,
            "Cargo.lock" => Format::CargoLock,
            _ if name.starts_with("requirements") && name.ends_with(".txt") => Format::Requirements,
            _ => return None,
        })
    }
}

/// One package found in a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The ecosystem it belongs to.
    pub ecosystem: Ecosystem,
    /// The name as written in the lockfile (registry name for aliases).
    pub name: String,
    /// The locked version as written (may be empty for unassessable packages).
    pub version: String,
    /// Whether the project depends on it directly, where the format says.
    pub direct: Option<bool>,
    /// Whether it is only a development dependency, where the format says.
    pub dev: Option<bool>,
    /// Why it cannot be compared with registry advisories, if it cannot.
    pub unassessable: Option<Unassessable>,
}

/// Why a package cannot be judged against registry advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unassessable {
    /// Short reason, e.g. `git`, `path`, `link`, `workspace`, `branch version dev-main`.
    pub reason: String,
    /// Evidence: commit, url, time, …
    pub detail: BTreeMap<String, String>,
}

impl Package {
    /// A registry package.
    pub fn registry(eco: Ecosystem, name: &str, version: &str) -> Package {
        Package {
            ecosystem: eco,
            name: name.to_string(),
            version: version.to_string(),
            direct: None,
            dev: None,
            unassessable: None,
        }
    }

    /// Marks the package unassessable with `reason` and `detail` pairs (empty values dropped).
    pub fn not_registry(mut self, reason: impl Into<String>, detail: &[(&str, &str)]) -> Package {
        let detail = detail
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.unassessable = Some(Unassessable { reason: reason.into(), detail });
        self
    }

    /// Sets `dev`.
    pub fn dev(mut self, dev: Option<bool>) -> Package {
        self.dev = dev;
        self
    }

    /// Sets `direct`.
    pub fn direct(mut self, direct: Option<bool>) -> Package {
        self.direct = direct;
        self
    }
}

/// A lockfile that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {message}")]
pub struct LockfileError {
    /// The format it was read as.
    pub format: &'static str,
    /// What is wrong, lowercase.
    pub message: String,
}

impl LockfileError {
    pub(super) fn new(format: Format, message: impl Into<String>) -> LockfileError {
        LockfileError { format: format.as_str(), message: message.into() }
    }
}

/// Parses the text of a lockfile of `format`.
pub fn parse(format: Format, text: &str) -> Result<Vec<Package>, LockfileError> {
    match format {
        Format::Composer => lock_misc::composer(text),
        Format::NpmLock => lock_js::npm(text),
        Format::YarnLock => lock_js::yarn(text),
        Format::PnpmLock => lock_js::pnpm(text),
        Format::PoetryLock => lock_py::poetry(text),
        Format::PipfileLock => lock_py::pipfile(text),
        Format::Requirements => lock_py::requirements(text),
        Format::GemfileLock => lock_misc::gemfile(text),
        Format::GoMod => lock_misc::gomod(text),
        Format::GoSum => lock_misc::gosum(text),
        Format::CargoLock => lock_misc::cargo(text),
    }
}

/// Parses the lockfile at `path` whose text is `text`, like [`parse`], except that a
/// requirements file follows its `-r`/`-c` includes and a go.sum defers to the go.mod beside
/// it when there is one; `read` reads those other files (byte-capped by the caller).
pub fn parse_file(
    format: Format,
    path: &Path,
    text: &str,
    read: lock_py::ReadInclude<'_>,
) -> Result<Vec<Package>, LockfileError> {
    match format {
        Format::Requirements => lock_py::requirements_file(path, text, read),
        Format::GoSum => {
            let gomod = path.with_file_name("go.mod");
            if !gomod.is_file() {
                return lock_misc::gosum(text);
            }
            let mod_text = read(&gomod).map_err(|e| {
                LockfileError::new(Format::GoSum, format!("{}: {e}", gomod.display()))
            })?;
            lock_misc::gosum_with_mod(text, &mod_text)
        }
        _ => parse(format, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_names() {
        let f = |n: &str| Format::detect(Path::new(n));
        assert_eq!(f("/srv/app/composer.lock"), Some(Format::Composer));
        assert_eq!(f("/srv/app/requirements-prod.txt"), Some(Format::Requirements));
        assert_eq!(f("/srv/app/Cargo.lock"), Some(Format::CargoLock));
        assert_eq!(f("/srv/app/composer.json"), None);
    }
}
