//! The status badge: a small SVG with the overall proven rate, coloured by the worst status.
//!
//! Pure: built from the public document only, so it shows nothing the document does not.

use super::schema::StatusDocument;

/// The badge SVG for `document`.
pub(crate) fn badge_svg(document: &StatusDocument) -> String {
    let overall = &document.summary.overall;
    let value = match overall.proven.percent {
        Some(p) => format!("{p:.1}% proven"),
        None => "no controls".to_owned(),
    };
    let count = |word: &str| overall.counts.get(word).copied().unwrap_or(0);
    let colour = if count("failing") + count("error") > 0 {
        "#c62828"
    } else if count("stale") + count("unknown") > 0 {
        "#b26a00"
    } else {
        "#2e7d32"
    };
    let (left, right) = (54, 8 + 7 * value.len() as u32);
    let width = left + right;
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" "#,
            r#"aria-label="beweis: {v}"><title>beweis: {v}</title>"#,
            r##"<rect width="{l}" height="20" fill="#555"/>"##,
            r#"<rect x="{l}" width="{r}" height="20" fill="{c}"/>"#,
            r##"<g fill="#fff" font-family="DejaVu Sans,Verdana,sans-serif" font-size="11">"##,
            r#"<text x="6" y="14">beweis</text><text x="{tx}" y="14">{v}</text></g></svg>"#,
            "\n"
        ),
        w = width,
        l = left,
        r = right,
        c = colour,
        tx = left + 4,
        v = value
    )
}
