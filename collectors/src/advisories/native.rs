//! Imports of the two non-OSV advisory formats: FriendsOfPHP security-advisories (Packagist)
//! and RubySec ruby-advisory-db (RubyGems).
//!
//! Each YAML file becomes one [`Record`] with the same model as OSV data. FriendsOfPHP
//! `branches.*.versions` are conjunctions of constraints (any branch matching means
//! affected); RubySec `patched_versions` and `unaffected_versions` are requirement lists
//! (affected unless one matches, `~>` interpreted as `Gem::Requirement` does). These
//! constraint syntaxes are used only for these native records, never for OSV ranges.
//! Neighbours: `osv` (model and evaluation), `db` (walks the directories).

use serde_norway::Value;

use super::osv::{parse_requirements, Affected, Record, RecordError, Rule};
use super::version::Ecosystem;

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_yaml(bytes: &[u8], origin: &str) -> Result<Value, RecordError> {
    let err = |message: String| RecordError { origin: origin.to_string(), message };
    let value: Value =
        serde_norway::from_slice(bytes).map_err(|e| err(format!("invalid yaml: {e}")))?;
    if !value.is_mapping() {
        return Err(err("not a yaml mapping".to_string()));
    }
    Ok(value)
}

/// One FriendsOfPHP advisory; `stem` is `<vendor>/<package>/<file stem>`.
pub fn friendsofphp(bytes: &[u8], origin: &str, stem: &str) -> Result<Record, RecordError> {
    let err = |message: String| RecordError { origin: origin.to_string(), message };
    let doc = parse_yaml(bytes, origin)?;
    let reference = text(doc.get("reference")).unwrap_or_default();
    let name = reference
        .strip_prefix("composer://")
        .ok_or_else(|| err(format!("reference {reference:?} is not composer://")))?;
    let branches = doc
        .get("branches")
        .and_then(Value::as_mapping)
        .ok_or_else(|| err("no branches".to_string()))?;
    let mut sets = Vec::new();
    let mut times = Vec::new();
    for (branch, body) in branches {
        let label = text(Some(branch)).unwrap_or_default();
        let versions = body
            .get("versions")
            .and_then(Value::as_sequence)
            .ok_or_else(|| err(format!("branch {label}: no versions list")))?;
        let mut set = Vec::new();
        for v in versions {
            let v = text(Some(v)).ok_or_else(|| err(format!("branch {label}: bad version")))?;
            set.extend(parse_requirements(&v).map_err(|m| err(format!("branch {label}: {m}")))?);
        }
        sets.push(set);
        if let Some(time) = text(body.get("time")).filter(|t| !t.trim().is_empty()) {
            times.push(time.trim().replacen(' ', "T", 1) + "Z");
        }
    }
    times.sort();
    let aliases = text(doc.get("cve")).into_iter().filter(|c| !c.is_empty()).collect();
    Ok(Record {
        id: format!("FriendsOfPHP/{stem}"),
        aliases,
        modified: times.last().cloned().unwrap_or_default(),
        published: times.first().cloned(),
        summary: text(doc.get("title")),
        affected: vec![Affected {
            ecosystem: Ok(Ecosystem::Packagist),
            norm_name: Ecosystem::Packagist.normalise_name(name),
            name: name.to_string(),
            versions: Vec::new(),
            rules: vec![Rule::AnyOf(sets)],
            informational: None,
            severity: Vec::new(),
        }],
        origin: origin.to_string(),
        ..Record::default()
    })
}

/// One RubySec advisory; `stem` is `<gem>/<file stem>`.
pub fn rubysec(bytes: &[u8], origin: &str, stem: &str) -> Result<Record, RecordError> {
    let err = |message: String| RecordError { origin: origin.to_string(), message };
    let doc = parse_yaml(bytes, origin)?;
    let gem = text(doc.get("gem")).ok_or_else(|| err("no gem".to_string()))?;
    let mut sets = Vec::new();
    for key in ["patched_versions", "unaffected_versions"] {
        let Some(list) = doc.get(key).and_then(Value::as_sequence) else { continue };
        for item in list {
            let item = text(Some(item)).ok_or_else(|| err(format!("{key}: not a string")))?;
            sets.push(parse_requirements(&item).map_err(|m| err(format!("{key}: {m}")))?);
        }
    }
    let mut aliases = Vec::new();
    if let Some(cve) = text(doc.get("cve")) {
        aliases.push(format!("CVE-{cve}"));
    }
    if let Some(ghsa) = text(doc.get("ghsa")) {
        aliases.push(format!("GHSA-{ghsa}"));
    }
    let date = text(doc.get("date")).map(|d| format!("{d}T00:00:00Z"));
    let given_score = match doc.get("cvss_v3").or_else(|| doc.get("cvss_v2")) {
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    };
    Ok(Record {
        id: format!("RubySec/{stem}"),
        aliases,
        modified: date.clone().unwrap_or_default(),
        published: date,
        summary: text(doc.get("title")),
        given_score,
        affected: vec![Affected {
            ecosystem: Ok(Ecosystem::RubyGems),
            norm_name: gem.clone(),
            name: gem,
            versions: Vec::new(),
            rules: vec![Rule::NoneOf(sets)],
            informational: None,
            severity: Vec::new(),
        }],
        origin: origin.to_string(),
        ..Record::default()
    })
}

#[cfg(test)]
mod tests {
    use super::super::osv::{evaluate, Outcome};
    use super::super::version::Version;
    use super::*;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/advisories/native");

    fn load(path: &str) -> Vec<u8> {
        let full = format!("{DIR}/{path}");
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn affected(rec: &Record, eco: Ecosystem, name: &str, version: &str) -> bool {
        let v = Version::parse(eco, version).expect("version");
        let mut w = Vec::new();
        matches!(evaluate(rec, eco, &eco.normalise_name(name), &v, &mut w), Outcome::Affected(_))
    }

    #[test]
    fn friendsofphp_branches() {
        let path = "friendsofphp/league/flysystem/CVE-2021-32708.yaml";
        let rec = friendsofphp(&load(path), path, "league/flysystem/CVE-2021-32708").expect("ok");
        assert_eq!(rec.aliases, vec!["CVE-2021-32708"]);
        let k = Ecosystem::Packagist;
        assert!(affected(&rec, k, "league/flysystem", "1.0.8"));
        assert!(!affected(&rec, k, "league/flysystem", "1.1.4"));
        assert!(affected(&rec, k, "league/flysystem", "2.1.0"));
        assert!(!affected(&rec, k, "league/flysystem", "2.1.1"));
        let path = "friendsofphp/magento/product-community-edition/CVE-2019-8090.yaml";
        let rec = friendsofphp(&load(path), path, "m/CVE-2019-8090").expect("ok");
        let m = "magento/product-community-edition";
        assert!(affected(&rec, k, m, "2.3.2-p1"));
        assert!(!affected(&rec, k, m, "2.3.2-p2"));
        let path = "friendsofphp/drupal/core/CVE-2019-6342.yaml";
        let rec = friendsofphp(&load(path), path, "drupal/core/CVE-2019-6342").expect("ok");
        assert!(!affected(&rec, k, "drupal/core", "8.7.3"));
        assert!(affected(&rec, k, "drupal/core", "8.7.4"));
        assert!(friendsofphp(b"title: x\n", "bad.yaml", "bad").is_err());
    }

    #[test]
    fn rubysec_patched_and_unaffected() {
        let path = "rubysec/gems/rack/CVE-2022-30123.yml";
        let rec = rubysec(&load(path), path, "rack/CVE-2022-30123").expect("ok");
        assert!(rec.aliases.contains(&"GHSA-wq4h-7r42-5hrr".to_string()));
        assert_eq!(rec.given_score, Some(10.0));
        let g = Ecosystem::RubyGems;
        assert!(affected(&rec, g, "rack", "2.2.3"));
        assert!(!affected(&rec, g, "rack", "2.2.3.1"));
        assert!(!affected(&rec, g, "rack", "3.0.0"));
        assert!(rubysec(b"- a\n", "bad.yml", "bad").is_err());
    }
}
