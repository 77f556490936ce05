//! The Hetzner Cloud source: a server's provider backups through the Cloud API.
//!
//! Owns two requests — `GET <api_url>/servers/<id>` (is a backup window set?) and
//! `GET <api_url>/images?type=backup&bound_to=<id>` (the restore points, paginated) — with the
//! API token read from a file or systemd credential and sent only in the `Authorization`
//! header, never in facts or messages. Provider backups are bound to the server: deleted with
//! it, in the same location, not database-consistent, without volumes; the facts say so
//! (`independent_copy`, `off_host` and `db_consistent` are false) so that a check can demand
//! another copy. The API address has no default: configure `https://api.hetzner.cloud/v1`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::exec::ExecError;
use super::report::{Point, Report, RunResult};
use super::times::{parse_iso, Zone};
use super::{validate_name, validate_secret, Run, Secret};
use crate::{FailureKind, ParamError};

/// The most image pages fetched.
const MAX_PAGES: u32 = 20;

/// The most bytes of one response body read.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Parameters of a Hetzner Cloud source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HetznerConfig {
    /// The source's name.
    pub name: String,
    /// The API base, e.g. `https://api.hetzner.cloud/v1` (no default).
    pub api_url: String,
    /// The server id.
    pub server_id: u64,
    /// A file holding the API token.
    pub token_file: Option<String>,
    /// The name of a systemd credential holding the API token.
    pub token_credential: Option<String>,
}

/// Validated Hetzner settings.
#[derive(Debug, Clone)]
pub struct HetznerSettings {
    /// The source's name.
    pub name: String,
    api_url: String,
    server_id: u64,
    token: Secret,
}

impl HetznerConfig {
    /// Validates, pushing errors under `key`.
    pub fn validate(self, key: &str, errors: &mut Vec<ParamError>) -> HetznerSettings {
        validate_name(&self.name, key, errors);
        let url = self.api_url.trim_end_matches('/').to_string();
        match reqwest::Url::parse(&url) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.username().is_empty() => {}
            _ => errors.push(ParamError::new(
                format!("{key}.api_url"),
                "must be an http(s) URL without credentials",
            )),
        }
        let token = validate_secret(self.token_file, self.token_credential, key, "token", errors);
        if token == Secret::None {
            errors.push(ParamError::new(
                format!("{key}.token_file"),
                "needs token_file or token_credential",
            ));
        }
        HetznerSettings { name: self.name, api_url: url, server_id: self.server_id, token }
    }
}

/// Collects the server's provider backups.
///
/// # Errors
///
/// When the token cannot be read, the API cannot be reached in time, or answers with an
/// error or something that is not the documented JSON.
pub async fn collect(settings: &HetznerSettings, run: &Run<'_>) -> Result<Report, ExecError> {
    let token = read_token(&settings.token)?;
    let client = reqwest::Client::builder()
        .timeout(run.remaining().max(Duration::from_millis(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(FailureKind::Other, format!("cannot build http client: {e}")))?;
    let api = Api { client: &client, base: &settings.api_url, token: &token, run };
    let server = api.get(&format!("/servers/{}", settings.server_id)).await?;
    let window = server["server"]["backup_window"].clone();
    if !server["server"].is_object() {
        return Err(fail(
            FailureKind::Parse,
            "hetzner api: response has no server object".to_string(),
        ));
    }
    let images = api.images(settings.server_id).await?;
    let mut report = Report {
        source: "hetzner",
        name: settings.name.clone(),
        location: format!("{}/servers/{}", settings.api_url, settings.server_id),
        ..Report::default()
    };
    apply(&mut report, &window, &images);
    Ok(report)
}

fn fail(kind: FailureKind, message: String) -> ExecError {
    ExecError { kind, message }
}

fn read_token(secret: &Secret) -> Result<String, ExecError> {
    let path = secret.resolve()?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        fail(FailureKind::Permission, format!("token file {} is not readable", path.display()))
    })?;
    let token = text.trim().to_string();
    if token.is_empty() || token.contains(['\n', '\r']) {
        return Err(fail(
            FailureKind::Other,
            format!("token file {} holds no single token", path.display()),
        ));
    }
    Ok(token)
}

struct Api<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
    run: &'a Run<'a>,
}

impl Api<'_> {
    async fn get(&self, path: &str) -> Result<Value, ExecError> {
        let url = format!("{}{path}", self.base);
        let request = self.client.get(&url).bearer_auth(self.token).send();
        let response = tokio::select! {
            _ = self.run.ctx.cancel.cancelled() => {
                return Err(fail(FailureKind::Cancelled, format!("hetzner api {path}: cancelled")));
            }
            response = request => response.map_err(|e| transport_error(path, &e))?,
        };
        let status = response.status();
        let body = read_body(response, path).await?;
        let value: Value = serde_json::from_slice(&body).map_err(|_| {
            fail(
                FailureKind::Parse,
                format!(
                    "hetzner api {path}: http {} with a body that is not json",
                    status.as_u16()
                ),
            )
        })?;
        if !status.is_success() {
            return Err(api_error(path, status.as_u16(), &value));
        }
        Ok(value)
    }

    async fn images(&self, server: u64) -> Result<Vec<Value>, ExecError> {
        let mut images = Vec::new();
        let mut page = 1;
        while page <= MAX_PAGES {
            let path = format!("/images?type=backup&bound_to={server}&page={page}&per_page=50");
            let answer = self.get(&path).await?;
            let Some(list) = answer["images"].as_array() else {
                return Err(fail(
                    FailureKind::Parse,
                    format!("hetzner api {path}: no images array"),
                ));
            };
            images.extend(list.iter().cloned());
            match answer["meta"]["pagination"]["next_page"].as_u64() {
                Some(next) if next > u64::from(page) => {
                    page = u32::try_from(next).unwrap_or(u32::MAX)
                }
                _ => break,
            }
        }
        Ok(images)
    }
}

async fn read_body(mut response: reqwest::Response, path: &str) -> Result<Vec<u8>, ExecError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(fail(
                        FailureKind::Parse,
                        format!("hetzner api {path}: response larger than {MAX_BODY_BYTES} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport_error(path, &e)),
        }
    }
}

fn transport_error(path: &str, error: &reqwest::Error) -> ExecError {
    if error.is_timeout() {
        return fail(FailureKind::Timeout, format!("hetzner api {path}: timed out"));
    }
    // reqwest errors name the URL; the token is never part of it.
    let text = error.to_string();
    fail(FailureKind::Unreachable, format!("hetzner api {path}: {text}"))
}

/// `{"error":{"code":"unauthorized","message":"unable to authenticate"}}` → a clear failure.
fn api_error(path: &str, status: u16, body: &Value) -> ExecError {
    let code = body["error"]["code"].as_str().unwrap_or("unknown");
    let message = body["error"]["message"].as_str().unwrap_or("").to_lowercase();
    let kind = match status {
        401 | 403 => FailureKind::Permission,
        404 => FailureKind::NotFound,
        _ => FailureKind::Other,
    };
    fail(kind, format!("hetzner api {path}: http {status} {code}: {message}"))
}

/// Fills `report` from the server's backup window and its backup images.
pub fn apply(report: &mut Report, window: &Value, images: &[Value]) {
    let enabled = window.as_str().is_some_and(|w| !w.is_empty());
    report.points = images.iter().filter_map(image_point).collect();
    let newest_available =
        report.points.iter().filter(|p| p.good).max_by_key(|p| p.at.utc).is_some();
    report.stated_result = Some(match (enabled, newest_available) {
        (true, true) => RunResult::Success,
        (true, false) => RunResult::Unknown,
        (false, _) => RunResult::Failed,
    });
    report.off_host = Some(false);
    report.independent_copy = Some(false);
    report.detail.insert("backups_enabled".into(), json!(enabled));
    report.detail.insert("backup_window".into(), window.clone());
    report.detail.insert("restore_points".into(), json!(report.points.len()));
    let newest = images.iter().max_by_key(|i| {
        let created = i["created"].as_str().and_then(|c| parse_iso(c, Zone::Utc));
        created.map(|stamp| stamp.utc)
    });
    let status = newest.map_or(Value::Null, |i| i["status"].clone());
    report.detail.insert("newest_image_status".into(), status);
    report.detail.insert("db_consistent".into(), json!(false));
    report.detail.insert("includes_volumes".into(), json!(false));
    report.detail.insert(
        "note".into(),
        json!(
            "provider backups are bound to the server and its location; an off-site copy \
               (e.g. restic or borg elsewhere) and a database-consistent dump are still needed"
        ),
    );
}

fn image_point(image: &Value) -> Option<Point> {
    let created = image["created"].as_str()?;
    Some(Point {
        id: image["id"].as_u64().map_or_else(|| "?".to_string(), |id| id.to_string()),
        at: parse_iso(created, Zone::Utc)?,
        bytes: image["image_size"].as_f64().map(|gb| (gb * 1e9) as u64),
        files: None,
        good: image["status"] == "available",
        job: Some("server".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::report::Policy;

    fn facts(window: Value, images: &[Value]) -> Value {
        let mut report = Report { source: "hetzner", ..Report::default() };
        apply(&mut report, &window, images);
        let now = parse_iso("2026-08-20T12:00:00Z", Zone::Utc).expect("now").utc;
        report.into_facts(now, Policy { stale_after_hours: 26.0, window_days: 7 }).0
    }

    #[test]
    fn bk07_disabled_and_stale_provider_backups() {
        let disabled = facts(Value::Null, &[]);
        assert_eq!(disabled["detail"]["backups_enabled"], false);
        assert_eq!(disabled["result"], "failed");
        assert_eq!(disabled["independent_copy"], false);
        let body: Value =
            serde_json::from_str(include_str!("fixtures/hetzner/images-4242.json")).expect("json");
        let images = body["images"].as_array().expect("images").clone();
        let old = facts(json!("22-02"), &images);
        assert_eq!(old["detail"]["backups_enabled"], true);
        assert_eq!(old["last_success_utc"], "2026-08-17T00:41:12.000Z");
        assert_eq!(old["newest_success_age_hours"], 83.31);
        assert_eq!(old["fresh"], false);
        assert_eq!(old["detail"]["restore_points"], 2);
        assert_eq!(
            (old["off_host"].clone(), old["detail"]["db_consistent"].clone()),
            (json!(false), json!(false))
        );
    }
}
