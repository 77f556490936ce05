//! Incremental update of an osv.dev-style zip export: only the records changed since the copy
//! held are fetched.
//!
//! osv.dev publishes, beside each `<ecosystem>/all.zip`, a `modified_id.csv` (lines
//! `<modified>,<id>`, newest first) and every record as `<id>.json`. Owns [`update`]: when the
//! configured URL ends in `/all.zip` and the last refresh recorded the newest `modified` time
//! of the copy held, fetch the list, fetch each record changed since then, check that each
//! is an OSV record with the id it was fetched as, and write a new zip (the unchanged entries
//! copied as they are, the changed ones replaced or added) that is verified, fsynced and
//! renamed over the old one. A record deleted upstream (rare: osv.dev withdraws instead)
//! stays in the held zip until the next whole download.
//! Whenever the incremental way cannot answer (no list, more than [`MAX_CHANGED`] records
//! changed, no recorded time) it returns `None` and the caller downloads the whole export; a
//! record that fails to download or verify fails the refresh with the old zip kept.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::osv::parse_osv;
use super::refresh::{
    now_text, temp_path, verify, write_validators, RefreshOutcome, RefreshPlan, Validators,
};

/// More changed records than this are fetched as a whole export instead.
pub const MAX_CHANGED: usize = 2_000;

/// Updates `path` from the records changed since `kept.newest_modified`, or `None` when the
/// whole export must be fetched.
pub async fn update(
    client: &reqwest::Client,
    path: &Path,
    plan: &RefreshPlan,
    kept: &Validators,
) -> Option<RefreshOutcome> {
    let base = plan.url.strip_suffix("all.zip").filter(|b| b.ends_with('/'))?;
    let since = kept.newest_modified.as_deref()?;
    if !path.is_file() {
        return None;
    }
    let list = match changed_ids(client, base, since).await {
        Ok(Some(list)) => list,
        Ok(None) => return None,
        Err(message) => return Some(RefreshOutcome::Failed(message)),
    };
    Some(match apply(client, path, plan, base, kept, list).await {
        Ok(outcome) => outcome,
        Err(message) => RefreshOutcome::Failed(message),
    })
}

fn time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// The ids changed after `since` with their times (empty when nothing changed), or `None`
/// when there is no usable list.
async fn changed_ids(
    client: &reqwest::Client,
    base: &str,
    since: &str,
) -> Result<Option<Vec<(String, String)>>, String> {
    let url = format!("{base}modified_id.csv");
    let since = time(since).ok_or_else(|| format!("recorded time {since:?} is not rfc 3339"))?;
    let response = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Ok(None);
    }
    let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
    let mut changed = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = line.split_once(',').and_then(|(m, id)| Some((time(m)?, m, id)));
        let Some((when, modified, id)) = parsed else {
            return Err(format!("{url}: line {line:?} is not `modified,id`"));
        };
        if when <= since {
            continue;
        }
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(format!("{url}: bad record id {id:?}"));
        }
        changed.push((id.to_string(), modified.to_string()));
        if changed.len() > MAX_CHANGED {
            return Ok(None);
        }
    }
    Ok(Some(changed))
}

async fn apply(
    client: &reqwest::Client,
    path: &Path,
    plan: &RefreshPlan,
    base: &str,
    kept: &Validators,
    changed: Vec<(String, String)>,
) -> Result<RefreshOutcome, String> {
    if changed.is_empty() {
        let checked = Validators { checked_at: Some(now_text()), ..kept.clone() };
        write_validators(path, &checked)?;
        return Ok(RefreshOutcome::NotModified);
    }
    let mut fetched: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut bytes = 0u64;
    for (id, _) in &changed {
        let body = fetch_record(client, base, id, plan.max_bytes).await?;
        bytes += body.len() as u64;
        if bytes > plan.max_bytes {
            return Err(format!("changed records larger than {} bytes", plan.max_bytes));
        }
        fetched.insert(format!("{id}.json"), body);
    }
    let temp = temp_path(path);
    let result = rewrite(path, &temp, &fetched).and_then(|()| {
        let (records, newest) = verify(&temp, plan.max_bytes)?;
        std::fs::rename(&temp, path).map_err(|e| format!("rename into place: {e}"))?;
        let next =
            Validators { checked_at: Some(now_text()), newest_modified: newest, ..kept.clone() };
        write_validators(path, &next)?;
        Ok(RefreshOutcome::Updated { bytes, records })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

async fn fetch_record(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    max_bytes: u64,
) -> Result<Vec<u8>, String> {
    let url = format!("{base}{id}.json");
    let response = client.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url}: http status {}", response.status().as_u16()));
    }
    let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    if body.len() as u64 > max_bytes {
        return Err(format!("{url}: larger than {max_bytes} bytes"));
    }
    let record = parse_osv(&body, &url).map_err(|e| format!("record rejected: {e}"))?;
    if record.id != id {
        return Err(format!("{url}: record says it is {}", record.id));
    }
    Ok(body.to_vec())
}

/// Writes `temp`: the entries of `path` not in `replace`, copied raw, then `replace`'s.
fn rewrite(path: &Path, temp: &Path, replace: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let old = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(old).map_err(|e| format!("held zip is not readable: {e}"))?;
    let file = std::fs::File::create(temp).map_err(|e| format!("create temp: {e}"))?;
    let mut out = zip::ZipWriter::new(file);
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| format!("held zip entry {i}: {e}"))?;
        if replace.contains_key(entry.name()) {
            continue;
        }
        out.raw_copy_file(entry).map_err(|e| format!("copy entry {i}: {e}"))?;
    }
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in replace {
        out.start_file(name.as_str(), options).map_err(|e| format!("write {name}: {e}"))?;
        out.write_all(body).map_err(|e| format!("write {name}: {e}"))?;
    }
    let mut file = out.finish().map_err(|e| format!("finish temp zip: {e}"))?;
    file.flush().map_err(|e| format!("flush temp: {e}"))?;
    file.sync_all().map_err(|e| format!("fsync temp: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::super::refresh::{read_validators, refresh};
    use super::*;

    type Routes = Vec<(&'static str, &'static str, Vec<u8>)>;

    /// A loopback server answering `routes` (path, status, body), one request per
    /// connection, until no request came for a second; returns the base URL and the paths
    /// asked for, in order.
    async fn serve(routes: Routes) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let base = format!("http://{}/x/", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut asked = Vec::new();
            let wait = Duration::from_secs(1);
            while let Ok(Ok((mut socket, _))) = tokio::time::timeout(wait, listener.accept()).await
            {
                let mut request = vec![0u8; 4096];
                let n = socket.read(&mut request).await.expect("read");
                let head = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map_or(("404 Not Found", Vec::new()), |(_, s, b)| (*s, b.clone()));
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                socket.write_all(head.as_bytes()).await.expect("head");
                socket.write_all(&body).await.expect("body");
                asked.push(path);
            }
            asked
        });
        (base, task)
    }

    fn record(id: &str, modified: &str) -> String {
        format!(r#"{{"id":"{id}","modified":"{modified}","affected":[]}}"#)
    }

    fn zip_of(records: &[(&str, String)]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut out);
            for (name, text) in records {
                let options = zip::write::SimpleFileOptions::default();
                zip.start_file(*name, options).expect("start");
                zip.write_all(text.as_bytes()).expect("write");
            }
            zip.finish().expect("finish");
        }
        out.into_inner()
    }

    fn entries(path: &Path) -> BTreeMap<String, String> {
        let mut archive =
            zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).expect("entry");
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).expect("read");
                (entry.name().to_string(), text)
            })
            .collect()
    }

    fn plan(base: &str) -> RefreshPlan {
        RefreshPlan {
            url: format!("{base}all.zip"),
            interval: Duration::from_secs(0),
            max_bytes: 1 << 20,
        }
    }

    #[tokio::test]
    async fn only_changed_records_are_fetched_and_merged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("all.zip");
        let first = zip_of(&[
            ("A-1.json", record("A-1", "2026-01-01T00:00:00Z")),
            ("A-2.json", record("A-2", "2026-01-02T00:00:00Z")),
        ]);
        let (base, server) = serve(vec![("/x/all.zip", "200 OK", first)]).await;
        let outcome = refresh(&path, &plan(&base), Duration::from_secs(10)).await;
        assert!(matches!(outcome, RefreshOutcome::Updated { records: 2, .. }), "{outcome:?}");
        assert_eq!(server.await.expect("server"), vec!["/x/all.zip"]);
        let kept = read_validators(&path);
        assert_eq!(kept.newest_modified.as_deref(), Some("2026-01-02T00:00:00Z"));

        let csv = "2026-03-01T00:00:00.5Z,A-2\n2026-02-01T00:00:00Z,A-3\n\
                   2026-01-01T00:00:00Z,A-1\n";
        let changed = |a3: &'static str| {
            vec![
                ("/x/modified_id.csv", "200 OK", csv.as_bytes().to_vec()),
                ("/x/A-2.json", "200 OK", record("A-2", "2026-03-01T00:00:00.5Z").into_bytes()),
                ("/x/A-3.json", a3, record("A-3", "2026-02-01T00:00:00Z").into_bytes()),
            ]
        };
        // A record that cannot be fetched fails the refresh and keeps the held zip.
        let before = std::fs::read(&path).expect("read");
        let (base, server) = serve(changed("500 Internal Server Error")).await;
        let outcome = refresh(&path, &plan(&base), Duration::from_secs(10)).await;
        assert!(matches!(&outcome, RefreshOutcome::Failed(m) if m.contains("A-3.json")));
        server.await.expect("server");
        assert_eq!(std::fs::read(&path).expect("read"), before);

        let (base, server) = serve(changed("200 OK")).await;
        let outcome = refresh(&path, &plan(&base), Duration::from_secs(10)).await;
        assert!(matches!(outcome, RefreshOutcome::Updated { records: 3, .. }), "{outcome:?}");
        let asked = server.await.expect("server");
        assert_eq!(asked, vec!["/x/modified_id.csv", "/x/A-2.json", "/x/A-3.json"]);
        let held = entries(&path);
        assert_eq!(held.len(), 3);
        assert_eq!(held["A-1.json"], record("A-1", "2026-01-01T00:00:00Z"), "copied unchanged");
        assert!(held["A-2.json"].contains("2026-03-01T00:00:00.5Z"), "replaced");
        let kept = read_validators(&path);
        assert_eq!(kept.newest_modified.as_deref(), Some("2026-03-01T00:00:00.5Z"));

        // Nothing newer: not modified, nothing fetched but the list.
        let (base, server) = serve(changed("200 OK")).await;
        let outcome = refresh(&path, &plan(&base), Duration::from_secs(10)).await;
        assert_eq!(outcome, RefreshOutcome::NotModified);
        assert_eq!(server.await.expect("server"), vec!["/x/modified_id.csv"]);

        // No list: the whole export is asked for (here: not modified).
        let (base, server) = serve(vec![("/x/all.zip", "304 Not Modified", Vec::new())]).await;
        let outcome = refresh(&path, &plan(&base), Duration::from_secs(10)).await;
        assert_eq!(outcome, RefreshOutcome::NotModified);
        assert_eq!(server.await.expect("server"), vec!["/x/modified_id.csv", "/x/all.zip"]);
    }
}
