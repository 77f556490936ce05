//! CVSS v3.0/v3.1 and v4.0 base scores computed from the vector, and qualitative severity
//! ratings.
//!
//! Owns [`base_score`]: it checks that a vector carries every base metric of its version and
//! hands the arithmetic to RustSec's `cvss` crate (the v3.x formula with each version's
//! rounding; the v4.0 macro-vector lookup with severity distances). A v4 vector's threat,
//! environmental and supplemental metrics are dropped first, so the number is always the
//! CVSS-B base score, comparable with a v3 base score; both map to the same [`Severity`]
//! bands. CVSS v2 vectors are not scored (their bands differ). It does not pick which of a
//! record's vectors counts (`findings` takes the highest).

/// A qualitative severity, ordered from none to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Score 0.0, or RustSec informational notices.
    None,
    /// 0.1–3.9
    Low,
    /// 4.0–6.9
    Medium,
    /// 7.0–8.9
    High,
    /// 9.0–10.0
    Critical,
}

impl Severity {
    /// The rating of a base score.
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::None
        }
    }

    /// Parses a database label (GHSA uses MODERATE for medium).
    pub fn from_label(label: &str) -> Option<Severity> {
        Some(match label.to_ascii_lowercase().as_str() {
            "none" => Severity::None,
            "low" => Severity::Low,
            "moderate" | "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The lowercase name used in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// All ratings, lowest first.
    pub const ALL: [Severity; 5] =
        [Severity::None, Severity::Low, Severity::Medium, Severity::High, Severity::Critical];
}

/// A vector that cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{vector}: {message}")]
pub struct CvssError {
    /// The vector.
    pub vector: String,
    /// What is wrong.
    pub message: String,
}

/// A computed base score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// 0.0–10.0, one decimal.
    pub score: f64,
    /// `3.0`, `3.1` or `4.0`.
    pub version: &'static str,
}

/// Base metrics every vector of a version must carry.
const V3_BASE: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
const V4_BASE: [&str; 11] = ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"];

/// The base score of a `CVSS:3.0/…`, `CVSS:3.1/…` or `CVSS:4.0/…` vector.
pub fn base_score(vector: &str) -> Result<Scored, CvssError> {
    let vector = vector.trim();
    let fail = |m: String| CvssError { vector: vector.to_string(), message: m };
    let (prefix, metrics) = vector.split_once('/').unwrap_or((vector, ""));
    let (version, required): (&'static str, &[&str]) = match prefix {
        "CVSS:3.0" => ("3.0", &V3_BASE),
        "CVSS:3.1" => ("3.1", &V3_BASE),
        "CVSS:4.0" => ("4.0", &V4_BASE),
        _ => return Err(fail("not a cvss 3.0, 3.1 or 4.0 vector".to_string())),
    };
    let pairs = metric_pairs(metrics).map_err(fail)?;
    if let Some(missing) = required.iter().find(|k| !pairs.iter().any(|(key, _)| key == *k)) {
        return Err(fail(format!("missing base metric {missing}")));
    }
    let score = if version == "4.0" {
        let base: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| V4_BASE.contains(k))
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        let text = format!("CVSS:4.0/{}", base.join("/"));
        let parsed: ::cvss::v4::Vector = text.parse().map_err(|e| fail(format!("{e}")))?;
        parsed.score().value()
    } else {
        let parsed: ::cvss::v3::Vector = vector.parse().map_err(|e| fail(format!("{e}")))?;
        parsed.base_score().value()
    };
    Ok(Scored { score, version })
}

/// `K:V` pairs of a vector after its prefix; a metric given twice is an error.
fn metric_pairs(metrics: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for part in metrics.split('/') {
        let (key, value) =
            part.split_once(':').ok_or_else(|| format!("metric {part:?} without value"))?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("metric {key} given twice"));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_scores(cases: &[(&str, f64)]) {
        for (vector, want) in cases {
            let got = base_score(vector).unwrap_or_else(|e| panic!("{e}")).score;
            assert!((got - want).abs() < 1e-9, "{vector}: got {got}, want {want}");
        }
    }

    #[test]
    fn v3_vectors_score_as_published() {
        // Scores as shown by the FIRST CVSS v3.1 calculator / NVD for these vectors.
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            // Temporal metrics do not change the base score.
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U", 9.8),
        ];
        assert_scores(&cases);
    }

    #[test]
    fn v4_vectors_score_as_the_first_calculator() {
        // Scores the FIRST CVSS v4.0 calculator (the specification's reference implementation)
        // and GitHub's advisory pages show for these vectors; the 6.9 vector is
        // GHSA-qppj-fm5r-hxr3's CVSS_V4 entry in the fixtures (labelled MODERATE there), 5.3 is
        // the usual stored-XSS vector of GHSA records.
        let cases = [
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 8.7),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N", 6.9),
            ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 5.3),
            // Threat metrics are dropped: the base score stays 9.3 (CVSS-BT would be lower).
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", 9.3),
        ];
        assert_scores(&cases);
        let v4 = base_score(cases[0].0).expect("scores");
        assert_eq!(v4.version, "4.0");
        assert_eq!(Severity::from_score(v4.score), Severity::Critical);
    }

    #[test]
    fn bad_vectors_are_errors_and_ratings_follow_bands() {
        for bad in [
            "CVSS:3.1/AV:N/AC:L",
            "CVSS:4.0/AV:N",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:Q/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "",
        ] {
            assert!(base_score(bad).is_err(), "{bad}");
        }
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(6.9), Severity::Medium);
        assert_eq!(Severity::from_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_score(0.1), Severity::Low);
        assert_eq!(Severity::from_label("MODERATE"), Some(Severity::Medium));
    }
}
