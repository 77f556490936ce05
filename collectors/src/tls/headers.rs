//! HTTP security headers of an HTTPS response head, scored like the MDN HTTP Observatory.
//!
//! Owns parsing a response head (status line, headers, `Set-Cookie`) into facts about HSTS,
//! Content-Security-Policy, X-Content-Type-Options, X-Frame-Options / frame-ancestors,
//! Referrer-Policy and cookie flags, and the Observatory's published modifiers and grade scale
//! applied to them. Pure: the head is fetched by `cert` over the scanned TLS connection.

use serde::Serialize;

/// HSTS as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Hsts {
    /// A Strict-Transport-Security header was present.
    pub(crate) present: bool,
    /// Its max-age in seconds; `None` if missing or invalid.
    pub(crate) max_age: Option<u64>,
    /// includeSubDomains present.
    pub(crate) include_subdomains: bool,
    /// preload present (the preload list itself is not consulted).
    pub(crate) preload: bool,
}

/// One cookie's flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Cookie {
    /// The cookie name.
    pub(crate) name: String,
    /// Secure flag.
    pub(crate) secure: bool,
    /// HttpOnly flag.
    pub(crate) http_only: bool,
    /// SameSite value, lowercase.
    pub(crate) same_site: Option<String>,
}

/// One Observatory test result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Test {
    /// The Observatory's result identifier, e.g. `hsts-not-implemented`.
    pub(crate) result: &'static str,
    /// The score modifier.
    pub(crate) modifier: i32,
}

/// Header facts and the Observatory score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Headers {
    /// HTTP status code.
    pub(crate) status: Option<u16>,
    /// HSTS.
    pub(crate) hsts: Hsts,
    /// The CSP header value.
    pub(crate) content_security_policy: Option<String>,
    /// X-Content-Type-Options value.
    pub(crate) x_content_type_options: Option<String>,
    /// X-Frame-Options value.
    pub(crate) x_frame_options: Option<String>,
    /// Referrer-Policy value.
    pub(crate) referrer_policy: Option<String>,
    /// Cookies set.
    pub(crate) cookies: Vec<Cookie>,
    /// Observatory score (0 at least).
    pub(crate) observatory_score: i32,
    /// Observatory letter grade.
    pub(crate) observatory_grade: &'static str,
    /// Every test with its modifier.
    pub(crate) observatory_tests: Vec<Test>,
}

/// Parses a response head and scores it.
pub(crate) fn analyse(head: &str) -> Headers {
    let mut lines = head.split("\r\n").flat_map(|l| l.split('\n'));
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    let fields: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let first = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let cookies =
        fields.iter().filter(|(k, _)| k == "set-cookie").filter_map(|(_, v)| cookie(v)).collect();
    let mut headers = Headers {
        status,
        hsts: first("strict-transport-security").map(|v| hsts(&v)).unwrap_or_default(),
        content_security_policy: first("content-security-policy"),
        x_content_type_options: first("x-content-type-options"),
        x_frame_options: first("x-frame-options"),
        referrer_policy: first("referrer-policy"),
        cookies,
        observatory_score: 0,
        observatory_grade: "F",
        observatory_tests: Vec::new(),
    };
    score(&mut headers);
    headers
}

fn hsts(value: &str) -> Hsts {
    let mut out = Hsts { present: true, ..Hsts::default() };
    for directive in value.split(';').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if let Some(age) = lower.strip_prefix("max-age=") {
            out.max_age = age.trim_matches('"').parse().ok();
        } else if lower == "includesubdomains" {
            out.include_subdomains = true;
        } else if lower == "preload" {
            out.preload = true;
        }
    }
    out
}

fn cookie(value: &str) -> Option<Cookie> {
    let mut parts = value.split(';').map(str::trim);
    let name = parts.next()?.split_once('=')?.0.trim().to_string();
    let mut cookie = Cookie { name, secure: false, http_only: false, same_site: None };
    for attribute in parts {
        let lower = attribute.to_ascii_lowercase();
        if lower == "secure" {
            cookie.secure = true;
        } else if lower == "httponly" {
            cookie.http_only = true;
        } else if let Some(site) = lower.strip_prefix("samesite=") {
            cookie.same_site = Some(site.trim().to_string());
        }
    }
    Some(cookie)
}

/// Six months, the Observatory's (and SSL Labs') HSTS threshold.
pub(crate) const HSTS_SIX_MONTHS: u64 = 15_552_000;

fn score(headers: &mut Headers) {
    let tests = vec![
        csp_test(headers.content_security_policy.as_deref()),
        cookie_test(&headers.cookies),
        referrer_test(headers.referrer_policy.as_deref()),
        hsts_test(&headers.hsts),
        nosniff_test(headers.x_content_type_options.as_deref()),
        frame_test(headers.x_frame_options.as_deref(), headers.content_security_policy.as_deref()),
    ];
    let penalties: i32 = tests.iter().map(|t| t.modifier.min(0)).sum();
    let bonuses: i32 = tests.iter().map(|t| t.modifier.max(0)).sum();
    let base = 100 + penalties;
    // Extra credit counts only for sites that already score 90 or more.
    let total = if base >= 90 { base + bonuses } else { base };
    headers.observatory_score = total.max(0);
    headers.observatory_grade = letter(headers.observatory_score);
    headers.observatory_tests = tests;
}

fn test(result: &'static str, modifier: i32) -> Test {
    Test { result, modifier }
}

fn csp_test(csp: Option<&str>) -> Test {
    let Some(policy) = csp.map(str::to_ascii_lowercase) else {
        return test("csp-not-implemented", -25);
    };
    let script = directive(&policy, "script-src").or_else(|| directive(&policy, "default-src"));
    let Some(script) = script else {
        return test("csp-implemented-with-unsafe-inline", -20);
    };
    if script.contains("'unsafe-inline'")
        || script.split_whitespace().any(|s| s == "data:" || s == "*")
    {
        return test("csp-implemented-with-unsafe-inline", -20);
    }
    if script.contains("'unsafe-eval'") {
        return test("csp-implemented-with-unsafe-eval", -10);
    }
    if script.split_whitespace().any(|s| s == "http:" || s.starts_with("http://")) {
        return test("csp-implemented-with-insecure-scheme", -20);
    }
    if directive(&policy, "default-src").is_some_and(|d| d.trim() == "'none'") {
        return test("csp-implemented-with-no-unsafe-default-src-none", 10);
    }
    test("csp-implemented-with-no-unsafe", 5)
}

fn directive<'a>(policy: &'a str, name: &str) -> Option<&'a str> {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|rest| rest.is_empty() || rest.starts_with(' ')))
}

fn cookie_test(cookies: &[Cookie]) -> Test {
    if cookies.is_empty() {
        return test("cookies-not-found", 0);
    }
    let is_session = |c: &Cookie| {
        let name = c.name.to_ascii_lowercase();
        name.contains("sess")
            || name.contains("sid")
            || name.contains("auth")
            || name.contains("token")
    };
    if cookies.iter().any(|c| is_session(c) && !c.secure) {
        return test("cookies-session-without-secure-flag", -40);
    }
    if cookies.iter().any(|c| !c.secure) {
        return test("cookies-without-secure-flag", -20);
    }
    if cookies.iter().any(|c| is_session(c) && !c.http_only) {
        return test("cookies-session-without-httponly-flag", -30);
    }
    let valid_same_site =
        |c: &Cookie| matches!(c.same_site.as_deref(), Some("strict" | "lax" | "none"));
    if cookies.iter().any(|c| c.same_site.is_some() && !valid_same_site(c)) {
        return test("cookies-samesite-flag-invalid", -20);
    }
    if cookies.iter().all(valid_same_site) {
        return test("cookies-secure-with-httponly-sessions-and-samesite", 5);
    }
    test("cookies-secure-with-httponly-sessions", 0)
}

fn referrer_test(policy: Option<&str>) -> Test {
    let Some(policy) = policy else {
        return test("referrer-policy-not-implemented", 0);
    };
    let last = policy.split(',').map(str::trim).next_back().unwrap_or("").to_ascii_lowercase();
    match last.as_str() {
        "no-referrer" | "same-origin" | "strict-origin" | "strict-origin-when-cross-origin" => {
            test("referrer-policy-private", 5)
        }
        "origin" | "origin-when-cross-origin" | "unsafe-url" | "no-referrer-when-downgrade" => {
            test("referrer-policy-unsafe", -5)
        }
        _ => test("referrer-policy-header-invalid", -5),
    }
}

fn hsts_test(hsts: &Hsts) -> Test {
    match (hsts.present, hsts.max_age) {
        (false, _) => test("hsts-not-implemented", -20),
        (true, None) => test("hsts-header-invalid", -20),
        (true, Some(age)) if age < HSTS_SIX_MONTHS => {
            test("hsts-implemented-max-age-less-than-six-months", -10)
        }
        // FIXME(hsts-preload): +5 needs the preload list, which is not consulted.
        (true, Some(_)) => test("hsts-implemented-max-age-at-least-six-months", 0),
    }
}

fn nosniff_test(value: Option<&str>) -> Test {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => test("x-content-type-options-not-implemented", -5),
        Some(v) if v == "nosniff" => test("x-content-type-options-nosniff", 0),
        Some(_) => test("x-content-type-options-header-invalid", -5),
    }
}

fn frame_test(xfo: Option<&str>, csp: Option<&str>) -> Test {
    let csp = csp.map(str::to_ascii_lowercase);
    if csp.as_deref().and_then(|p| directive(p, "frame-ancestors")).is_some() {
        return test("x-frame-options-implemented-via-csp", 5);
    }
    match xfo.map(|v| v.trim().to_ascii_lowercase()) {
        None => test("x-frame-options-not-implemented", -20),
        Some(v) if v == "deny" || v == "sameorigin" => {
            test("x-frame-options-sameorigin-or-deny", 0)
        }
        Some(v) if v.starts_with("allow-from") => test("x-frame-options-allow-from-origin", 0),
        Some(_) => test("x-frame-options-header-invalid", -20),
    }
}

fn letter(score: i32) -> &'static str {
    match score {
        100.. => "A+",
        90..=99 => "A",
        85..=89 => "A-",
        80..=84 => "B+",
        70..=79 => "B",
        65..=69 => "B-",
        60..=64 => "C+",
        50..=59 => "C",
        45..=49 => "C-",
        40..=44 => "D+",
        30..=39 => "D",
        25..=29 => "D-",
        _ => "F",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_page_with_long_hsts_scores_like_the_observatory() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\
                    Strict-Transport-Security: max-age=15552000\r\nContent-Length: 3";
        let headers = analyse(head);
        assert_eq!(headers.status, Some(200));
        assert_eq!(headers.hsts.max_age, Some(15_552_000));
        // 100 - 25 (csp) - 5 (nosniff) - 20 (frame options) = 50
        assert_eq!(headers.observatory_score, 50);
        assert_eq!(headers.observatory_grade, "C");
    }

    #[test]
    fn complete_set_earns_extra_credit() {
        let head = "HTTP/1.1 200 OK\r\n\
            Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n\
            Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n\
            X-Content-Type-Options: nosniff\r\n\
            Referrer-Policy: no-referrer\r\n\
            Set-Cookie: session=abc; Secure; HttpOnly; SameSite=Strict";
        let headers = analyse(head);
        assert!(headers.hsts.include_subdomains && headers.hsts.preload);
        assert_eq!(headers.cookies[0].same_site.as_deref(), Some("strict"));
        // 100 + 10 (csp none) + 5 (cookies) + 5 (referrer) + 5 (frame-ancestors)
        assert_eq!(headers.observatory_score, 125);
        assert_eq!(headers.observatory_grade, "A+");
    }

    #[test]
    fn insecure_session_cookie_and_short_hsts_are_penalised() {
        let head = "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=300\r\n\
                    Set-Cookie: PHPSESSID=1; path=/\r\nX-Frame-Options: DENY";
        let headers = analyse(head);
        let results: Vec<_> = headers.observatory_tests.iter().map(|t| t.result).collect();
        assert!(results.contains(&"cookies-session-without-secure-flag"));
        assert!(results.contains(&"hsts-implemented-max-age-less-than-six-months"));
        // 100 - 25 - 40 - 10 - 5 = 20
        assert_eq!(headers.observatory_score, 20);
    }
}
