//! CVSS v3.0/v3.1 base scores computed from the vector, and qualitative severity ratings.
//!
//! Owns the base-score formula of the CVSS v3.1 specification (section 7.1, with its
//! `Roundup` of appendix A; v3.0 vectors use the v3.0 rounding). It does not compute CVSS v4
//! scores: v4 needs the specification's macro-vector lookup table, which is not implemented
//! yet (FIXME(advisories-cvss4)); a v4 vector is reported without a score.

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

/// A vector that is not a complete CVSS v3 base vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{vector}: {message}")]
pub struct CvssError {
    /// The vector.
    pub vector: String,
    /// What is wrong.
    pub message: String,
}

/// The base score of a `CVSS:3.0/…` or `CVSS:3.1/…` vector.
pub fn base_score_v3(vector: &str) -> Result<f64, CvssError> {
    let fail = |m: &str| CvssError { vector: vector.to_string(), message: m.to_string() };
    let mut parts = vector.trim().split('/');
    let v30 = match parts.next() {
        Some("CVSS:3.1") => false,
        Some("CVSS:3.0") => true,
        _ => return Err(fail("not a cvss 3.0 or 3.1 vector")),
    };
    let mut metrics = std::collections::BTreeMap::new();
    for part in parts {
        let (key, value) = part.split_once(':').ok_or_else(|| fail("metric without value"))?;
        if metrics.insert(key, value).is_some() {
            return Err(fail("metric given twice"));
        }
    }
    let get = |k: &str| metrics.get(k).copied().ok_or_else(|| fail(&format!("missing {k}")));
    let changed = match get("S")? {
        "U" => false,
        "C" => true,
        _ => return Err(fail("bad S")),
    };
    let weight = |k: &str, table: &[(&str, f64)]| -> Result<f64, CvssError> {
        let value = get(k)?;
        table
            .iter()
            .find(|(n, _)| *n == value)
            .map(|(_, w)| *w)
            .ok_or_else(|| fail(&format!("bad {k}")))
    };
    let av = weight("AV", &[("N", 0.85), ("A", 0.62), ("L", 0.55), ("P", 0.2)])?;
    let ac = weight("AC", &[("L", 0.77), ("H", 0.44)])?;
    let pr_table: &[(&str, f64)] = if changed {
        &[("N", 0.85), ("L", 0.68), ("H", 0.5)]
    } else {
        &[("N", 0.85), ("L", 0.62), ("H", 0.27)]
    };
    let pr = weight("PR", pr_table)?;
    let ui = weight("UI", &[("N", 0.85), ("R", 0.62)])?;
    let cia = [("H", 0.56), ("L", 0.22), ("N", 0.0)];
    let (c, i, a) = (weight("C", &cia)?, weight("I", &cia)?, weight("A", &cia)?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact =
        if changed { 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15) } else { 6.42 * iss };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Ok(if v30 { (raw * 10.0).ceil() / 10.0 } else { roundup(raw) })
}

/// CVSS v3.1 appendix A `Roundup`: the smallest one-decimal number not below `x`, computed on
/// integers to avoid floating-point artefacts.
fn roundup(x: f64) -> f64 {
    let scaled = (x * 100_000.0).round() as i64;
    if scaled % 10_000 == 0 {
        scaled as f64 / 100_000.0
    } else {
        ((scaled / 10_000) + 1) as f64 / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_score_as_published() {
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
        ];
        for (vector, want) in cases {
            let got = base_score_v3(vector).expect(vector);
            assert!((got - want).abs() < 1e-9, "{vector}: got {got}, want {want}");
        }
    }

    #[test]
    fn bad_vectors_are_errors_and_ratings_follow_bands() {
        assert!(base_score_v3("CVSS:3.1/AV:N/AC:L").is_err());
        assert!(base_score_v3("CVSS:4.0/AV:N").is_err());
        assert!(base_score_v3("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(6.9), Severity::Medium);
        assert_eq!(Severity::from_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_score(0.1), Severity::Low);
        assert_eq!(Severity::from_label("MODERATE"), Some(Severity::Medium));
    }
}
