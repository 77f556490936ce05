//! The static trust page: `index.html` (German) and `index.en.html` (English).
//!
//! Rendered from the public status document alone (plus public catalog titles and the public
//! key), so the page shows nothing the signed document does not. No JavaScript; one inline
//! stylesheet; readable on a phone (the control table turns into cards on narrow screens).
//! Every piece of text is HTML-escaped, including values that should never need it. The layout
//! follows a typical trust page (headline, one card per CSF function, one line per control),
//! but each number comes with its formula and each line with its status word, evidence kind,
//! dates and salted digest. Machine-readable `data-*` attributes let tests compare the page
//! with `status.json`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::schema::{PublicControl, Rate, StatusDocument, Tally};
use crate::config::Catalog;
use crate::evidence::Checkpoint;

/// German texts of the CSF 1.1 catalog, as far as the operator's seed page gives them
/// (`config/catalogs/nist-csf-1.1.de.json`); the rest is shown in NIST's English.
static GERMAN: LazyLock<Translation> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../config/catalogs/nist-csf-1.1.de.json"))
        .expect("embedded German catalog texts are valid json")
});

/// A catalog translation file (format in `config/catalogs/README.md`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Translation {
    catalog: String,
    #[allow(dead_code)]
    language: String,
    #[allow(dead_code)]
    source: String,
    functions: HashMap<String, FunctionText>,
    categories: HashMap<String, String>,
    subcategories: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionText {
    #[allow(dead_code)]
    name: String,
    description: String,
}

/// The translation for `catalog` on a page in `lang`; `None` when the page shows NIST's text.
fn translation(catalog: &str, lang: &str) -> Option<&'static Translation> {
    (lang == "de" && GERMAN.catalog == catalog).then(|| &*GERMAN)
}

/// `translated` when there is one, else NIST's `english` marked `lang="en"` on a German page.
fn localized(translated: Option<&String>, english: &str, lang: &str) -> String {
    match translated {
        Some(text) => esc(text),
        None if lang != "en" => format!("<span lang=\"en\">{}</span>", esc(english)),
        None => esc(english),
    }
}

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    De,
    En,
}

/// Everything a page shows.
pub(crate) struct Page<'a> {
    pub(crate) document: &'a StatusDocument,
    pub(crate) checkpoint: &'a Checkpoint,
    pub(crate) public_key_hex: String,
    pub(crate) catalog: &'a Catalog,
}

/// Renders the page in `lang`.
pub(crate) fn render(page: &Page<'_>, lang: Lang) -> String {
    let t = texts(lang);
    let mut out = String::with_capacity(64 * 1024);
    head(&mut out, t);
    headline(&mut out, page, t);
    functions(&mut out, page, t);
    controls(&mut out, page, t);
    verification(&mut out, page, t);
    let _ = write!(
        out,
        "<footer><p>{} {} {} · {} <a href=\"status.json\">status.json</a> · \
         <a href=\"badge.svg\">badge.svg</a></p></footer>\n</body>\n</html>\n",
        esc(t.generated_by),
        esc(&page.document.agent.name),
        esc(&page.document.agent.version),
        esc(t.machine_readable)
    );
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',\
Roboto,'DejaVu Sans',sans-serif;color:#1c2430;background:#f5f7fa}\
header,main,footer{max-width:1100px;margin:0 auto;padding:1rem}\
header{padding-top:2rem}.eyebrow{color:#52606d;font-size:.9rem;margin:0}\
h1{font-size:1.9rem;margin:.3rem 0}h2{font-size:1.35rem;margin:2rem 0 .8rem}\
nav a{color:#0b5cad}.lead{max-width:46rem;color:#323f4b}\
.headline{display:flex;flex-wrap:wrap;gap:1rem}\
.stat{background:#fff;border-radius:12px;padding:1rem 1.2rem;flex:1 1 14rem;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}.stat .value{font-size:2.2rem;font-weight:700}\
.stat .label{color:#52606d}.formula{font-size:.85rem;color:#52606d;margin:.4rem 0 0}\
.counts{display:flex;flex-wrap:wrap;gap:.4rem;margin-top:.6rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:1rem}\
.card{background:#fff;border-radius:12px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}\
.card h3{margin:0 0 .3rem;font-size:1.1rem}.card .value{font-size:1.8rem;font-weight:700}\
.bar{height:8px;background:#e4e7eb;border-radius:4px;overflow:hidden;margin:.4rem 0}\
.bar span{display:block;height:100%;background:#2e7d32}\
table{width:100%;border-collapse:collapse;background:#fff;border-radius:12px;overflow:hidden;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}th,td{text-align:left;padding:.5rem .6rem;\
border-bottom:1px solid #e4e7eb;vertical-align:top;font-size:.92rem}\
th{background:#eef2f6;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}\
code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.82rem;\
word-break:break-all}.st{display:inline-block;padding:.1rem .5rem;border-radius:999px;\
font-weight:600;font-size:.85rem;white-space:nowrap}\
.passing{background:#e3f4e4;color:#1b5e20}.failing,.error{background:#fde7e7;color:#b71c1c}\
.stale{background:#fff3dc;color:#8a5300}.unknown,.not_applicable{background:#eceff1;\
color:#455a64}.attested,.inherited{background:#e3eefb;color:#0d47a1}\
.verify{background:#fff;border-radius:12px;padding:1rem 1.2rem;\
box-shadow:0 1px 3px rgba(0,0,0,.08)}pre{background:#1c2430;color:#f5f7fa;padding:.8rem;\
border-radius:8px;overflow-x:auto;font-size:.85rem}tr.category th{background:#dde4ec;\
text-transform:none;font-size:.95rem;letter-spacing:0}.about{color:#52606d;font-size:.85rem}\
.facts{margin:.3rem 0 0;padding-left:1rem;font-size:.85rem;color:#323f4b}\
footer{color:#52606d;font-size:.85rem}\
@media (max-width:700px){thead{display:none}table,tbody,tr,td{display:block;width:100%}\
tr{border-bottom:2px solid #d9dee4;padding:.4rem 0}td{border:0;padding:.15rem .8rem}\
tr.category th{display:block}td::before{content:attr(data-label);display:block;\
font-size:.72rem;color:#52606d;\
text-transform:uppercase}h1{font-size:1.5rem}}\
";

fn head(out: &mut String, t: &Texts) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"alternate\" hreflang=\"{other_lang}\" \
         href=\"{other_href}\">\n<style>{STYLE}</style>\n</head>\n<body>\n",
        lang = t.lang,
        title = esc(t.title),
        other_lang = t.other_lang,
        other_href = t.other_href,
    );
}

fn headline(out: &mut String, page: &Page<'_>, t: &Texts) {
    let doc = page.document;
    let overall = &doc.summary.overall;
    let _ = write!(
        out,
        "<header>\n<p class=\"eyebrow\">{catalog} · {as_of} {generated}</p>\n<h1>{title}</h1>\n\
         <p class=\"lead\">{lead}</p>\n<nav><a href=\"{href}\" hreflang=\"{other}\">{switch}</a>\
         </nav>\n</header>\n<main>\n<section class=\"headline\" aria-label=\"{summary}\">\n",
        catalog = esc(&doc.catalog.title),
        as_of = esc(t.as_of),
        generated = esc(&time(&doc.generated_at)),
        title = esc(t.title),
        lead = esc(t.lead),
        href = t.other_href,
        other = t.other_lang,
        switch = esc(t.switch),
        summary = esc(t.summary),
    );
    stat(out, "proven", &overall.proven, t.proven, &doc.summary.formulas.proven, t);
    stat(out, "automated", &overall.automated, t.automated, &doc.summary.formulas.automated, t);
    let _ = write!(out, "<div class=\"stat\"><div class=\"label\">{}</div>", esc(t.by_status));
    counts(out, overall, t);
    out.push_str("</div>\n</section>\n");
}

fn stat(out: &mut String, id: &str, rate: &Rate, label: &str, formula: &str, t: &Texts) {
    let _ = writeln!(
        out,
        "<div class=\"stat\" id=\"{id}\" data-percent=\"{raw}\" data-numerator=\"{n}\" \
         data-denominator=\"{d}\"><div class=\"value\">{value}</div><div class=\"label\">\
         {label} · {n} {of} {d} {controls}</div><p class=\"formula\">{formula_word}: \
         <code>{formula}</code></p></div>",
        raw = raw_percent(rate),
        n = rate.numerator,
        d = rate.denominator,
        value = esc(&percent(rate, t)),
        label = esc(label),
        of = esc(t.of),
        controls = esc(t.controls),
        formula_word = esc(t.formula),
        formula = esc(formula),
    );
}

fn counts(out: &mut String, tally: &Tally, t: &Texts) {
    out.push_str("<div class=\"counts\">");
    for (word, n) in &tally.counts {
        if *n > 0 {
            let _ = write!(
                out,
                "<span class=\"st {cls}\" data-count=\"{cls}\">{label}: {n}</span>",
                cls = esc(word),
                label = esc(status_label(word, t)),
            );
        }
    }
    out.push_str("</div>");
}

fn functions(out: &mut String, page: &Page<'_>, t: &Texts) {
    let _ = write!(out, "<section>\n<h2>{}</h2>\n<div class=\"cards\">\n", esc(t.functions));
    for function in page.document.summary.functions.iter().filter(|f| f.tally.controls > 0) {
        let rate = &function.tally.proven;
        let width = rate.percent.unwrap_or(0.0).clamp(0.0, 100.0);
        let _ = write!(
            out,
            "<div class=\"card\" id=\"function-{id}\" data-percent=\"{raw}\">\
             <h3>{name} <small>({id})</small></h3><div class=\"value\">{value}</div>\
             <div class=\"bar\"><span style=\"width:{width:.1}%\"></span></div>\
             <div>{proven}: {n} {of} {d}</div><div>{automated}: {auto}</div>",
            id = esc(&function.id),
            raw = raw_percent(rate),
            name = esc(function_name(&function.id, &function.name, t.lang)),
            value = esc(&percent(rate, t)),
            proven = esc(t.proven),
            n = rate.numerator,
            of = esc(t.of),
            d = rate.denominator,
            automated = esc(t.automated),
            auto = esc(&percent(&function.tally.automated, t)),
        );
        let german = translation(&page.document.catalog.id, t.lang);
        if let Some(text) = german.and_then(|g| g.functions.get(&function.id)) {
            let _ = write!(out, "<p class=\"about\">{}</p>", esc(&text.description));
        }
        counts(out, &function.tally, t);
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n</section>\n");
}

fn controls(out: &mut String, page: &Page<'_>, t: &Texts) {
    let _ = write!(
        out,
        "<section>\n<h2>{}</h2>\n<p>{}</p>\n<table>\n<thead><tr>",
        esc(t.control_list),
        esc(t.control_list_note)
    );
    for column in t.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(column));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let german = translation(&page.document.catalog.id, t.lang);
    let mut category = "";
    for control in &page.document.controls {
        let this = control.id.split('-').next().unwrap_or_default();
        if this != category {
            category = this;
            let english = page.catalog.category_name(this).unwrap_or(this);
            let name = localized(german.and_then(|g| g.categories.get(this)), english, t.lang);
            let _ = writeln!(
                out,
                "<tr class=\"category\"><th colspan=\"{}\" scope=\"colgroup\">{name} \
                 <small>({})</small></th></tr>",
                t.columns.len(),
                esc(this)
            );
        }
        let title = page.catalog.control(&control.id).map(|c| c.title.as_str()).unwrap_or("");
        let title = localized(german.and_then(|g| g.subcategories.get(&control.id)), title, t.lang);
        control_row(out, control, &title, t);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// One control's line; `title` is HTML already (see [`localized`]).
fn control_row(out: &mut String, control: &PublicControl, title: &str, t: &Texts) {
    let title = format!("{title}{}", public_facts(control));
    let kind = control.evidence_kind.as_deref().map(|k| kind_label(k, t)).unwrap_or("—");
    let when = |at: &Option<DateTime<Utc>>| at.as_ref().map(time).unwrap_or_else(|| "—".into());
    let digest = control.salted_digest.as_deref().unwrap_or("—");
    let c = t.columns;
    let _ = writeln!(
        out,
        "<tr id=\"control-{id}\" data-control=\"{id}\" data-status=\"{status}\">\
         <td data-label=\"{c0}\"><strong>{id}</strong></td>\
         <td data-label=\"{c1}\">{title}</td>\
         <td data-label=\"{c2}\"><span class=\"st {status}\">{mark} {word}</span></td>\
         <td data-label=\"{c3}\">{kind}</td><td data-label=\"{c4}\">{collected}</td>\
         <td data-label=\"{c5}\">{expires}</td><td data-label=\"{c6}\">{since}</td>\
         <td data-label=\"{c7}\"><code title=\"{digest}\">{short}</code></td></tr>",
        id = esc(&control.id),
        status = esc(&control.status),
        c0 = esc(c[0]),
        c1 = esc(c[1]),
        c2 = esc(c[2]),
        c3 = esc(c[3]),
        c4 = esc(c[4]),
        c5 = esc(c[5]),
        c6 = esc(c[6]),
        c7 = esc(c[7]),
        mark = status_mark(&control.status),
        word = esc(status_label(&control.status, t)),
        kind = esc(kind),
        collected = esc(&when(&control.collected_at)),
        expires = esc(&when(&control.expires_at)),
        since = esc(&when(&control.since)),
        digest = esc(digest),
        short = esc(&short_digest(digest)),
    );
}

/// The first 16 characters of a digest and an ellipsis; the whole one is in `status.json`.
fn short_digest(digest: &str) -> String {
    match digest.char_indices().nth(16) {
        Some((cut, _)) => format!("{}…", &digest[..cut]),
        None => digest.to_owned(),
    }
}

fn verification(out: &mut String, page: &Page<'_>, t: &Texts) {
    let checkpoint = page.checkpoint;
    let _ = write!(
        out,
        "<section class=\"verify\" id=\"verify\">\n<h2>{heading}</h2>\n<p>{intro}</p>\n<dl>\
         <dt>{key}</dt><dd><code id=\"public-key\">{public}</code></dd>\
         <dt>{fingerprint}</dt><dd><code id=\"key-id\">{key_id}</code></dd>\
         <dt>{signed}</dt><dd>{size_word} <code>{size}</code>, {root_word} <code>{root}</code>, \
         {at}</dd></dl>\n<p>{steps}</p>\n<pre>mkdir -p feed/chain &amp;&amp; cd feed\n\
         for f in checkpoint status.json proof.json; do curl -fsSO \"$SITE/gen/{size}/$f\"; done\n\
         beweis verify-feed . --key signing.pub --state ~/.beweis-feed-state.json</pre>\n\
         <p>{meaning}</p>\n</section>\n</main>\n",
        heading = esc(t.verify_heading),
        intro = esc(t.verify_intro),
        key = esc(t.public_key),
        public = esc(&page.public_key_hex),
        fingerprint = esc(t.fingerprint),
        key_id = esc(&checkpoint.key_id),
        signed = esc(t.signed_checkpoint),
        size_word = esc(t.tree_size),
        size = checkpoint.tree_size,
        root_word = esc(t.root),
        root = hex::encode(checkpoint.root),
        at = esc(&time(&checkpoint.created_at)),
        steps = esc(t.verify_steps),
        meaning = esc(t.verify_meaning),
    );
}

fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The percent as a plain number with one decimal (`80.0`), empty when undefined.
fn raw_percent(rate: &Rate) -> String {
    rate.percent.map(|p| format!("{p:.1}")).unwrap_or_default()
}

fn percent(rate: &Rate, t: &Texts) -> String {
    match rate.percent {
        Some(p) => {
            let text = format!("{p:.1}");
            let text = if t.lang == "de" { text.replace('.', ",") } else { text };
            format!("{text} %")
        }
        None => "n/a".to_owned(),
    }
}

fn status_mark(word: &str) -> &'static str {
    match word {
        "passing" => "✓",
        "failing" => "✗",
        "error" => "!",
        "stale" => "◷",
        "attested" => "✎",
        "inherited" => "⇡",
        "not_applicable" => "–",
        _ => "?",
    }
}

fn status_label<'t>(word: &'t str, t: &'t Texts) -> &'t str {
    t.statuses.iter().find(|(w, _)| *w == word).map(|(_, label)| *label).unwrap_or(word)
}

fn kind_label<'t>(word: &'t str, t: &'t Texts) -> &'t str {
    t.kinds.iter().find(|(w, _)| *w == word).map(|(_, label)| *label).unwrap_or(word)
}

fn function_name<'a>(id: &str, nist_name: &'a str, lang: &str) -> &'a str {
    if lang != "de" {
        return nist_name;
    }
    match id {
        "GV" => "Steuern",
        "ID" => "Identifizieren",
        "PR" => "Schützen",
        "DE" => "Erkennen",
        "RS" => "Reagieren",
        "RC" => "Wiederherstellen",
        _ => nist_name,
    }
}

/// The facts the profile marks public, as a small list under the title (empty when none).
fn public_facts(control: &PublicControl) -> String {
    if control.public_facts.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ul class=\"facts\">");
    for (pointer, values) in &control.public_facts {
        let values: Vec<String> = values.iter().map(|v| esc(&v.to_string())).collect();
        let _ = write!(
            out,
            "<li data-fact=\"{pointer}\"><code>{pointer}</code> {}</li>",
            values.join(", "),
            pointer = esc(pointer)
        );
    }
    out.push_str("</ul>");
    out
}

/// The words of one language.
struct Texts {
    lang: &'static str,
    other_lang: &'static str,
    other_href: &'static str,
    switch: &'static str,
    title: &'static str,
    lead: &'static str,
    as_of: &'static str,
    summary: &'static str,
    proven: &'static str,
    automated: &'static str,
    by_status: &'static str,
    of: &'static str,
    controls: &'static str,
    formula: &'static str,
    functions: &'static str,
    control_list: &'static str,
    control_list_note: &'static str,
    columns: [&'static str; 8],
    statuses: [(&'static str, &'static str); 8],
    kinds: [(&'static str, &'static str); 3],
    verify_heading: &'static str,
    verify_intro: &'static str,
    public_key: &'static str,
    fingerprint: &'static str,
    signed_checkpoint: &'static str,
    tree_size: &'static str,
    root: &'static str,
    verify_steps: &'static str,
    verify_meaning: &'static str,
    generated_by: &'static str,
    machine_readable: &'static str,
}

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &DE,
        Lang::En => &EN,
    }
}

static DE: Texts = Texts {
    lang: "de",
    other_lang: "en",
    other_href: "index.en.html",
    switch: "English",
    title: "Vertrauen und Sicherheit: Nachweise",
    lead: "Jede Zeile dieser Seite beruht auf datierten, gehashten Nachweisen in einem \
           signierten, nur anfügbaren Protokoll. Nicht Bewiesenes gilt nie als bestanden: \
           fehlende Nachweise heißen „unbekannt“, alte „veraltet“.",
    as_of: "Stand",
    summary: "Zusammenfassung",
    proven: "belegt",
    automated: "automatisch geprüft",
    by_status: "Kontrollen nach Status",
    of: "von",
    controls: "Kontrollen",
    formula: "Formel",
    functions: "Funktionen des NIST Cybersecurity Framework",
    control_list: "Kontrollen im Einzelnen",
    control_list_note: "Der gesalzene Digest verweist auf den Nachweis; Prüfer erhalten das Salz \
                        und die Nachweise im Prüferpaket.",
    columns: [
        "Kontrolle",
        "Beschreibung (NIST)",
        "Status",
        "Nachweisart",
        "Zuletzt geprüft",
        "Gültig bis",
        "Status seit",
        "Gesalzener Digest",
    ],
    statuses: [
        ("passing", "bestanden"),
        ("failing", "nicht bestanden"),
        ("error", "Fehler"),
        ("stale", "veraltet"),
        ("unknown", "unbekannt"),
        ("attested", "bestätigt"),
        ("inherited", "übernommen"),
        ("not_applicable", "nicht anwendbar"),
    ],
    kinds: [
        ("automated", "automatisch"),
        ("attested", "schriftlich bestätigt"),
        ("inherited", "vom Anbieter übernommen"),
    ],
    verify_heading: "Selbst nachprüfen",
    verify_intro: "status.json ist ein Eintrag im Nachweisprotokoll; der signierte Checkpoint \
                   und proof.json belegen, dass genau diese Datei im Protokoll steht und dass \
                   das Protokoll frühere Checkpoints nur fortschreibt.",
    public_key: "Öffentlicher Schlüssel (Ed25519)",
    fingerprint: "Fingerabdruck (Schlüssel-ID)",
    signed_checkpoint: "Signierter Checkpoint",
    tree_size: "Protokollgröße",
    root: "Wurzel",
    verify_steps: "Vergleichen Sie den Fingerabdruck mit einer Quelle außerhalb dieser Seite, \
                   speichern Sie den Schlüssel als signing.pub und führen Sie aus:",
    verify_meaning: "verify-feed prüft Signatur, Einschluss, Konsistenz mit dem zuletzt \
                     gesehenen Checkpoint und Aktualität; jede Abweichung beendet es mit Code 1. \
                     Liegt Ihr letzter Besuch mehrere Veröffentlichungen zurück, nennt es das \
                     Kettenglied chain/GRÖSSE.json, das Sie dazu laden (gen/GRÖSSE/ hält die \
                     Dateien einer Veröffentlichung zusammen).",
    generated_by: "Erzeugt von",
    machine_readable: "maschinenlesbar:",
};

static EN: Texts = Texts {
    lang: "en",
    other_lang: "de",
    other_href: "index.html",
    switch: "Deutsch",
    title: "Trust and security: evidence",
    lead: "Every line of this page rests on dated, hashed evidence in a signed, append-only \
           log. Nothing unproven counts as passing: missing evidence reads \"unknown\", old \
           evidence \"stale\".",
    as_of: "As of",
    summary: "Summary",
    proven: "proven",
    automated: "automatically verified",
    by_status: "Controls by status",
    of: "of",
    controls: "controls",
    formula: "Formula",
    functions: "NIST Cybersecurity Framework functions",
    control_list: "Controls in detail",
    control_list_note: "The salted digest points to the evidence; auditors receive the salt and \
                        the evidence records in the auditor bundle.",
    columns: [
        "Control",
        "Description (NIST)",
        "Status",
        "Evidence",
        "Last verified",
        "Expires",
        "Status since",
        "Salted digest",
    ],
    statuses: [
        ("passing", "passing"),
        ("failing", "failing"),
        ("error", "error"),
        ("stale", "stale"),
        ("unknown", "unknown"),
        ("attested", "attested"),
        ("inherited", "inherited"),
        ("not_applicable", "not applicable"),
    ],
    kinds: [
        ("automated", "automated"),
        ("attested", "attested in writing"),
        ("inherited", "inherited from provider"),
    ],
    verify_heading: "Verify it yourself",
    verify_intro: "status.json is an entry of the evidence log; the signed checkpoint and \
                   proof.json show that exactly this file is in the log and that the log only \
                   extends earlier checkpoints.",
    public_key: "Public key (Ed25519)",
    fingerprint: "Fingerprint (key id)",
    signed_checkpoint: "Signed checkpoint",
    tree_size: "log size",
    root: "root",
    verify_steps: "Compare the fingerprint with a source outside this page, save the key as \
                   signing.pub, and run:",
    verify_meaning: "verify-feed checks the signature, the inclusion, consistency with the \
                     checkpoint it saw last, and freshness; any mismatch exits with code 1. If \
                     your last visit was several publications ago, it names the chain link \
                     chain/SIZE.json to fetch as well (gen/SIZE/ keeps the files of one \
                     publication together).",
    generated_by: "Generated by",
    machine_readable: "machine-readable:",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("plain ü"), "plain ü");
    }

    #[test]
    fn percent_uses_the_language_decimal_mark() {
        let rate = Rate { numerator: 4, denominator: 5, percent: Some(80.0) };
        assert_eq!(percent(&rate, &DE), "80,0 %");
        assert_eq!(percent(&rate, &EN), "80.0 %");
        assert_eq!(raw_percent(&rate), "80.0");
        let none = Rate { numerator: 0, denominator: 0, percent: None };
        assert_eq!(percent(&none, &DE), "n/a");
        assert_eq!(raw_percent(&none), "");
    }

    #[test]
    fn every_status_word_has_a_label_in_both_languages() {
        for word in crate::controls::Status::ALL.map(|s| s.as_str()) {
            assert!(DE.statuses.iter().any(|(w, _)| *w == word), "{word} de");
            assert!(EN.statuses.iter().any(|(w, _)| *w == word), "{word} en");
        }
    }

    #[test]
    fn the_german_texts_name_real_catalog_entries() {
        let catalog = Catalog::get(crate::config::CatalogId::Csf11);
        assert_eq!(GERMAN.catalog, "nist-csf-1.1");
        assert!(GERMAN.categories.keys().all(|id| catalog.category_name(id).is_some()));
        assert!(GERMAN.subcategories.keys().all(|id| catalog.control(id).is_some()));
        let ids: Vec<&str> = catalog.functions().iter().map(|f| f.id.as_str()).collect();
        assert!(GERMAN.functions.keys().all(|id| ids.contains(&id.as_str())));
        assert_eq!(GERMAN.categories.get("PR.AC").map(String::as_str), Some("Zugriffskontrolle"));
    }

    #[test]
    fn untranslated_text_is_marked_english_on_the_german_page() {
        let german = translation("nist-csf-1.1", "de");
        let name = localized(german.and_then(|g| g.categories.get("PR.DS")), "Data Security", "de");
        assert_eq!(name, "Datensicherheit");
        let title = localized(None, "Data-at-rest is protected.", "de");
        assert_eq!(title, "<span lang=\"en\">Data-at-rest is protected.</span>");
        assert_eq!(localized(None, "Data-at-rest <is>", "en"), "Data-at-rest &lt;is&gt;");
        assert!(translation("nist-csf-1.1", "en").is_none());
        assert!(translation("nist-csf-2.0", "de").is_none());
    }
}
