//! Refreshing an osv.dev zip export from a configured URL, offline-first.
//!
//! Owns [`refresh`]: when the last check is older than the configured interval, ask the URL
//! with the validators of the copy held (`If-Modified-Since` with the server's own
//! `Last-Modified`, `If-None-Match` with its `ETag`; the zip's modification time when none
//! was kept); on `304` only record the check; on `200` stream the body into a temporary file
//! next to the database (byte-capped), verify that it is a zip whose every `.json` entry is an
//! OSV record, `fsync` it and rename it over the old file, so readers see the old or the new
//! database, never a mix. The validators and the time of the last check live in a small
//! JSON file beside the zip (`<zip>.refresh.json`), written the same way. Any failure leaves
//! the last good file in place and is returned as [`RefreshOutcome::Failed`] for the facts;
//! a failed attempt is not recorded as a check, so the next run asks again. It does not load
//! records into the database (`db`) and is only used for `osv-zip` sources.
//!
//! Before a whole download, an osv.dev-style export (`…/all.zip`) is first updated
//! incrementally from its `modified_id.csv` (see `incremental`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::incremental;
use super::osv::parse_osv;

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The local file is younger than the interval; nothing was asked.
    Fresh,
    /// The server answered 304 Not Modified.
    NotModified,
    /// A new, verified export replaced the old one.
    Updated {
        /// Bytes downloaded.
        bytes: u64,
        /// OSV records in the new file.
        records: usize,
    },
    /// The refresh failed; the last good file (if any) is still in place.
    Failed(String),
}

impl RefreshOutcome {
    /// Short name for facts.
    pub fn as_str(&self) -> &'static str {
        match self {
            RefreshOutcome::Fresh => "fresh",
            RefreshOutcome::NotModified => "not_modified",
            RefreshOutcome::Updated { .. } => "updated",
            RefreshOutcome::Failed(_) => "failed",
        }
    }
}

/// Where and how often to refresh one zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshPlan {
    /// The export URL (http or https).
    pub url: String,
    /// Do not ask more often than this.
    pub interval: Duration,
    /// The most bytes accepted for one download.
    pub max_bytes: u64,
}

/// What is kept between refreshes: the server's validators and the last successful check.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// `Last-Modified` of the copy held, verbatim.
    pub last_modified: Option<String>,
    /// `ETag` of the copy held, verbatim.
    pub etag: Option<String>,
    /// When the server last answered 200 or 304 (RFC 3339).
    pub checked_at: Option<String>,
    /// The newest `modified` time of the records in the copy held (for incremental updates).
    #[serde(default)]
    pub newest_modified: Option<String>,
}

/// The file beside `path` that keeps its [`Validators`].
pub fn validators_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".refresh.json");
    path.with_file_name(name)
}

pub(super) fn read_validators(path: &Path) -> Validators {
    std::fs::read(validators_path(path))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Refreshes `path` according to `plan`, within `timeout`.
pub async fn refresh(path: &Path, plan: &RefreshPlan, timeout: Duration) -> RefreshOutcome {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let kept = if modified.is_some() { read_validators(path) } else { Validators::default() };
    let checked: Option<SystemTime> = kept
        .checked_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc).into())
        .or(modified);
    if let Some(when) = checked {
        let age = SystemTime::now().duration_since(when).unwrap_or_default();
        if age < plan.interval {
            return RefreshOutcome::Fresh;
        }
    }
    let client = match client(timeout) {
        Ok(client) => client,
        Err(message) => return RefreshOutcome::Failed(message),
    };
    if let Some(outcome) = incremental::update(&client, path, plan, &kept).await {
        return outcome;
    }
    match fetch(&client, path, plan, modified, &kept).await {
        Ok(outcome) => outcome,
        Err(message) => RefreshOutcome::Failed(message),
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

async fn fetch(
    client: &reqwest::Client,
    path: &Path,
    plan: &RefreshPlan,
    modified: Option<SystemTime>,
    kept: &Validators,
) -> Result<RefreshOutcome, String> {
    let mut request = client.get(&plan.url);
    if let Some(mtime) = modified {
        let since = kept.last_modified.clone().unwrap_or_else(|| {
            let when: DateTime<Utc> = mtime.into();
            when.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
        });
        request = request.header(reqwest::header::IF_MODIFIED_SINCE, since);
        if let Some(etag) = &kept.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
    }
    let mut response = request.send().await.map_err(|e| format!("{}: {e}", plan.url))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        let checked = Validators { checked_at: Some(now_text()), ..kept.clone() };
        write_validators(path, &checked)?;
        return Ok(RefreshOutcome::NotModified);
    }
    if !status.is_success() {
        return Err(format!("{}: http status {}", plan.url, status.as_u16()));
    }
    let header = |name: reqwest::header::HeaderName| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    };
    let fresh = Validators {
        last_modified: header(reqwest::header::LAST_MODIFIED),
        etag: header(reqwest::header::ETAG),
        checked_at: Some(now_text()),
        newest_modified: None,
    };
    let temp = temp_path(path);
    let result = async {
        let mut file = std::fs::File::create(&temp).map_err(|e| format!("create temp: {e}"))?;
        let mut bytes: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("download: {e}"))? {
            bytes += chunk.len() as u64;
            if bytes > plan.max_bytes {
                return Err(format!("download larger than {} bytes", plan.max_bytes));
            }
            file.write_all(&chunk).map_err(|e| format!("write temp: {e}"))?;
        }
        file.sync_all().map_err(|e| format!("fsync temp: {e}"))?;
        let (records, newest) = verify(&temp, plan.max_bytes)?;
        std::fs::rename(&temp, path).map_err(|e| format!("rename into place: {e}"))?;
        write_validators(path, &Validators { newest_modified: newest, ..fresh })?;
        Ok(RefreshOutcome::Updated { bytes, records })
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

pub(super) fn now_text() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes the validators beside `path`: temporary file, fsync, rename.
pub(super) fn write_validators(path: &Path, validators: &Validators) -> Result<(), String> {
    let target = validators_path(path);
    let temp = temp_path(&target);
    let bytes = serde_json::to_vec(validators).map_err(|e| format!("validators: {e}"))?;
    let written = std::fs::File::create(&temp)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&temp, &target));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("write {}: {error}", target.display()));
    }
    Ok(())
}

/// A temporary name beside `path`, unique within this process (two instances may refresh
/// the same zip at once) and across processes.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".download-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Opens the zip and parses every `.json` entry; returns the record count and the newest
/// `modified` time.
pub(super) fn verify(path: &Path, max_bytes: u64) -> Result<(usize, Option<String>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("reopen temp: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("download is not a zip archive: {e}"))?;
    let mut records = 0;
    let mut newest: Option<String> = None;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| format!("zip entry {i}: {e}"))?;
        let name = entry.name().to_string();
        if !entry.is_file() || !name.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(max_bytes)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name}: cannot decompress: {e}"))?;
        let record = parse_osv(&bytes, &name).map_err(|e| format!("download rejected: {e}"))?;
        if newest.as_deref().is_none_or(|n| record.modified.as_str() > n) {
            newest = Some(record.modified);
        }
        records += 1;
    }
    if records == 0 {
        return Err("download rejected: no osv records".to_string());
    }
    Ok((records, newest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn zip_bytes(records: &[&str]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut out);
            for (i, rec) in records.iter().enumerate() {
                let options = zip::write::SimpleFileOptions::default();
                zip.start_file(format!("R-{i}.json"), options).expect("start");
                zip.write_all(rec.as_bytes()).expect("write");
            }
            zip.finish().expect("finish");
        }
        out.into_inner()
    }

    /// A one-shot HTTP/1.1 server on loopback; returns its URL and the request it received.
    async fn serve(
        status: &'static str,
        body: Vec<u8>,
    ) -> (String, tokio::task::JoinHandle<String>) {
        serve_with(status, "", body).await
    }

    /// Like `serve`, with extra header lines (each ending in CRLF).
    async fn serve_with(
        status: &'static str,
        headers: &'static str,
        body: Vec<u8>,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}/export.zip", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 4096];
            let n = socket.read(&mut request).await.expect("read");
            let head = format!(
                "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.expect("write head");
            socket.write_all(&body).await.expect("write body");
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        (url, task)
    }

    const RECORD: &str = r#"{"id":"N-1","modified":"2026-01-01T00:00:00Z","affected":[]}"#;

    fn plan(url: String) -> RefreshPlan {
        RefreshPlan { url, interval: Duration::from_secs(0), max_bytes: 1 << 20 }
    }

    #[tokio::test]
    async fn update_not_modified_and_failures_keep_the_last_good_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("all.zip");

        const VALIDATORS: &str =
            "last-modified: Tue, 01 Dec 2026 08:00:00 GMT\r\netag: \"export-7\"\r\n";
        let (url, server) = serve_with("200 OK", VALIDATORS, zip_bytes(&[RECORD, RECORD])).await;
        let outcome = refresh(&path, &plan(url), Duration::from_secs(10)).await;
        assert!(matches!(outcome, RefreshOutcome::Updated { records: 2, .. }), "{outcome:?}");
        let request = server.await.expect("server");
        assert!(!request.to_ascii_lowercase().contains("if-modified-since"));
        let good = std::fs::read(&path).expect("file");
        let kept = read_validators(&path);
        assert_eq!(kept.etag.as_deref(), Some("\"export-7\""));

        // The server's own validators go back verbatim, not the local clock's time.
        let (url, server) = serve("304 Not Modified", Vec::new()).await;
        let outcome = refresh(&path, &plan(url), Duration::from_secs(10)).await;
        assert_eq!(outcome, RefreshOutcome::NotModified);
        let request = server.await.expect("server").to_ascii_lowercase();
        assert!(
            request.contains("if-modified-since: tue, 01 dec 2026 08:00:00 gmt\r\n"),
            "{request}"
        );
        assert!(request.contains("if-none-match: \"export-7\"\r\n"), "{request}");
        assert_eq!(std::fs::read(&path).expect("file"), good);
        let checked = read_validators(&path);
        assert_eq!(checked.etag, kept.etag, "a 304 keeps the validators");
        assert!(checked.checked_at.is_some());

        let mut truncated = zip_bytes(&[RECORD]);
        truncated.truncate(truncated.len() / 2);
        let (url, _server) = serve("200 OK", truncated).await;
        let outcome = refresh(&path, &plan(url), Duration::from_secs(10)).await;
        assert!(matches!(&outcome, RefreshOutcome::Failed(m) if m.contains("zip")), "{outcome:?}");
        assert_eq!(std::fs::read(&path).expect("file"), good);

        let (url, _server) = serve("200 OK", zip_bytes(&["{not json"])).await;
        let outcome = refresh(&path, &plan(url), Duration::from_secs(10)).await;
        assert!(matches!(&outcome, RefreshOutcome::Failed(m) if m.contains("rejected")));
        assert_eq!(std::fs::read(&path).expect("file"), good);

        let (url, _server) = serve("500 Internal Server Error", Vec::new()).await;
        let outcome = refresh(&path, &plan(url), Duration::from_secs(10)).await;
        assert!(matches!(&outcome, RefreshOutcome::Failed(m) if m.contains("500")));
        let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(leftovers, 2, "the zip and its validators; temporary files are removed");
        assert_eq!(read_validators(&path), checked, "a failed attempt is not a check");

        // The last check (the 304 above) is recent: nothing is asked within the interval,
        // although the zip itself is old.
        let old = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let fresh = RefreshPlan { interval: Duration::from_secs(3600), ..plan(String::new()) };
        assert_eq!(refresh(&path, &fresh, Duration::from_secs(1)).await, RefreshOutcome::Fresh);
    }
}
