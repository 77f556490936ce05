//! Webhooks: status transitions and evidence about to expire, POSTed as JSON, with retries,
//! backoff and an idempotency key.
//!
//! A [`Notifier`] takes events without waiting (a bounded queue; when it is full the event is
//! dropped with a warning), and one background task delivers them in order to every hook
//! configured at that moment (the list is replaced on reload). Each delivery is retried on
//! connection errors, timeouts, 408, 429 and 5xx, with exponential backoff, up to a fixed number
//! of attempts; other 4xx answers end it at once. Every attempt of one event carries the same
//! `Idempotency-Key` header (also in the body), so a receiver can drop the duplicates a retry
//! after a lost answer produces. The caller claims each event in the store's outbox before
//! queueing it, so the same event is never queued twice, across re-evaluations and restarts;
//! the task marks it finished after every hook was tried. The payload is allow-listed like the
//! feed: control id, status words, times; never reasons or evidence. Neighbours: the runner
//! builds and claims events, the daemon starts the task; nothing here blocks collection.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::warn;

use crate::store::Store;

/// Events queued at most before new ones are dropped.
const QUEUE: usize = 1024;

/// Where and how persistently to deliver.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) url: reqwest::Url,
    /// Attempts per event, the first included.
    pub(crate) max_attempts: u32,
    /// The wait before the second attempt; it doubles each time, up to 60 s.
    pub(crate) first_backoff: Duration,
    /// The timeout of one attempt.
    pub(crate) timeout: Duration,
}

impl Webhook {
    /// The daemon's delivery policy for `url`: 6 attempts from 1 s backoff, 10 s each.
    pub(crate) fn standard(url: reqwest::Url) -> Webhook {
        Webhook {
            url,
            max_attempts: 6,
            first_backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A status transition as published to webhooks, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TransitionEvent {
    pub(crate) schema: &'static str,
    pub(crate) version: u32,
    /// Stable for the same transition: SHA-256 of key id, control, words and time.
    pub(crate) idempotency_key: String,
    pub(crate) control: String,
    pub(crate) from: Option<String>,
    pub(crate) to: String,
    pub(crate) at: String,
}

impl TransitionEvent {
    /// The event for a control moving `from` → `to` at `at`, on the host with key id `key_id`.
    pub(crate) fn new(
        key_id: &str,
        control: &str,
        from: Option<&str>,
        to: &str,
        at: DateTime<Utc>,
    ) -> TransitionEvent {
        let at = at.to_rfc3339_opts(SecondsFormat::Nanos, true);
        TransitionEvent {
            schema: "beweis-transition",
            version: 1,
            idempotency_key: key_of(&[key_id, control, from.unwrap_or(""), to, &at]),
            control: control.to_owned(),
            from: from.map(str::to_owned),
            to: to.to_owned(),
            at,
        }
    }
}

/// Evidence of a control that expires soon, version 1: sent once per control, evidence and
/// expiry time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ExpiringEvent {
    pub(crate) schema: &'static str,
    pub(crate) version: u32,
    /// SHA-256 of key id, control, evidence digest and expiry time: the same evidence
    /// expiring at the same time always has the same key, and the digest stays private.
    pub(crate) idempotency_key: String,
    pub(crate) control: String,
    /// The control's status word when the event was made.
    pub(crate) status: String,
    pub(crate) expires_at: String,
    pub(crate) at: String,
}

/// What an [`ExpiringEvent`] is about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expiring<'a> {
    pub(crate) control: &'a str,
    /// The internal digest of the evidence (never sent, only hashed into the key).
    pub(crate) evidence_digest: &'a str,
    pub(crate) status: &'a str,
    pub(crate) expires_at: DateTime<Utc>,
}

impl ExpiringEvent {
    /// The event for `what`, on the host with key id `key_id`, made at `at`.
    pub(crate) fn new(key_id: &str, what: &Expiring<'_>, at: DateTime<Utc>) -> ExpiringEvent {
        let expires_at = what.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let parts = [key_id, "expiring", what.control, what.evidence_digest, &expires_at];
        ExpiringEvent {
            schema: "beweis-expiring",
            version: 1,
            idempotency_key: key_of(&parts),
            control: what.control.to_owned(),
            status: what.status.to_owned(),
            expires_at,
            at: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// SHA-256 (hex) over the parts, each followed by a NUL byte.
fn key_of(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// One event as queued, stored in the outbox and sent: its key and exact JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    pub(crate) key: String,
    pub(crate) body: Vec<u8>,
}

impl Notice {
    fn of<T: Serialize>(key: &str, event: &T) -> Notice {
        let body = serde_json::to_vec(event).expect("an event has string keys");
        Notice { key: key.to_owned(), body }
    }
}

impl From<&TransitionEvent> for Notice {
    fn from(event: &TransitionEvent) -> Notice {
        Notice::of(&event.idempotency_key, event)
    }
}

impl From<&ExpiringEvent> for Notice {
    fn from(event: &ExpiringEvent) -> Notice {
        Notice::of(&event.idempotency_key, event)
    }
}

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DeliveryError {
    #[error("webhook {url} refused event {key}: http {status}")]
    Refused { url: String, key: String, status: u16 },
    #[error("webhook {url} failed event {key} after {attempts} attempts: {last}")]
    GaveUp { url: String, key: String, attempts: u32, last: String },
}

/// Delivers `notice` to `hook`, retrying; returns the number of attempts made.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    hook: &Webhook,
    notice: &Notice,
) -> Result<u32, DeliveryError> {
    let url = scrubbed(&hook.url);
    let mut backoff = hook.first_backoff;
    let mut last = String::new();
    for attempt in 1..=hook.max_attempts.max(1) {
        match attempt_once(client, hook, notice).await {
            Ok(()) => return Ok(attempt),
            Err(Attempt::Permanent(status)) => {
                let key = notice.key.clone();
                return Err(DeliveryError::Refused { url, key, status });
            }
            Err(Attempt::Retry(why)) => last = why,
        }
        if attempt < hook.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    let key = notice.key.clone();
    Err(DeliveryError::GaveUp { url, key, attempts: hook.max_attempts.max(1), last })
}

enum Attempt {
    Retry(String),
    Permanent(u16),
}

async fn attempt_once(
    client: &reqwest::Client,
    hook: &Webhook,
    notice: &Notice,
) -> Result<(), Attempt> {
    let response = client
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header("Idempotency-Key", &notice.key)
        .header("Content-Type", "application/json")
        .body(notice.body.clone())
        .send()
        .await
        .map_err(|e| {
            Attempt::Retry(if e.is_timeout() { "timeout".into() } else { "no answer".into() })
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        return Err(Attempt::Retry(format!("http {code}")));
    }
    Err(Attempt::Permanent(code))
}

/// The URL without credentials, query or fragment, for messages.
fn scrubbed(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The queue in front of the delivery task, and the hook list it delivers to.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    sender: mpsc::Sender<Notice>,
    hooks: Arc<RwLock<Vec<Webhook>>>,
}

impl Notifier {
    /// Starts the delivery task for `hooks`; it ends when every `Notifier` clone is dropped.
    /// With an `outbox`, each event is marked finished there once every hook was tried.
    pub(crate) fn start(
        hooks: Vec<Webhook>,
        outbox: Option<Store>,
    ) -> (Notifier, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<Notice>(QUEUE);
        let hooks = Arc::new(RwLock::new(hooks));
        let current = Arc::clone(&hooks);
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default();
            while let Some(notice) = receiver.recv().await {
                let hooks = current.read().unwrap_or_else(|e| e.into_inner()).clone();
                for hook in &hooks {
                    if let Err(e) = deliver(&client, hook, &notice).await {
                        warn!(error = %e, "Webhook delivery failed.");
                    }
                }
                if let Some(store) = &outbox {
                    if let Err(e) = store.finish_notice(&notice.key, Utc::now()).await {
                        warn!(error = %e, "Webhook event could not be marked finished.");
                    }
                }
            }
        });
        (Notifier { sender, hooks }, task)
    }

    /// Replaces the hooks (a reload); events already queued go to the new list.
    pub(crate) fn set_hooks(&self, hooks: Vec<Webhook>) {
        *self.hooks.write().unwrap_or_else(|e| e.into_inner()) = hooks;
    }

    /// Whether any hook is configured (events are neither claimed nor queued otherwise).
    pub(crate) fn has_hooks(&self) -> bool {
        !self.hooks.read().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Queues `notice` without waiting; `false` when the queue is full and it was dropped.
    pub(crate) fn notify(&self, notice: Notice) -> bool {
        match self.sender.try_send(notice) {
            Ok(()) => true,
            Err(_) => {
                warn!("Webhook queue full, an event was dropped.");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use chrono::TimeZone;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the receiver saw: every request's key, and the keys it accepted, once each.
    #[derive(Default)]
    struct Received {
        requests: Vec<String>,
        accepted: Vec<String>,
        bodies: Vec<serde_json::Value>,
    }

    /// A receiver on 127.0.0.1 that answers 503 to its first `failures` requests, then 200,
    /// and accepts each idempotency key once.
    async fn receiver(failures: usize) -> (reqwest::Url, Arc<Mutex<Received>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Received::default()));
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (key, body) = read_request(&mut stream).await;
                let status = {
                    let mut seen = shared.lock().expect("lock");
                    seen.requests.push(key.clone());
                    if seen.requests.len() <= failures {
                        "503 Service Unavailable"
                    } else {
                        if !seen.accepted.contains(&key) {
                            seen.accepted.push(key);
                            seen.bodies.push(body);
                        }
                        "200 OK"
                    }
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        (url.parse().expect("url"), seen)
    }

    async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, serde_json::Value) {
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            data.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = header(head, "content-length").and_then(|v| v.parse().ok());
                if n == 0 || length.is_some_and(|l: usize| body.len() >= l) {
                    let key = header(head, "idempotency-key").unwrap_or_default();
                    return (key, serde_json::from_str(body).unwrap_or_default());
                }
            }
            if n == 0 {
                return (String::new(), serde_json::Value::Null);
            }
        }
    }

    fn header(head: &str, name: &str) -> Option<String> {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    }

    fn hook(url: reqwest::Url) -> Webhook {
        Webhook {
            url,
            max_attempts: 5,
            first_backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
        }
    }

    fn events() -> Vec<TransitionEvent> {
        let at = Utc.timestamp_opt(1_800_000_000, 5).single().expect("valid time");
        vec![
            TransitionEvent::new("k1", "PR.AC-1", Some("passing"), "failing", at),
            TransitionEvent::new("k1", "PR.DS-1", None, "unknown", at),
            TransitionEvent::new("k1", "PR.AC-1", Some("failing"), "passing", at),
        ]
    }

    #[test]
    fn idempotency_keys_name_the_transition() {
        let [a, b, c] = <[TransitionEvent; 3]>::try_from(events()).expect("three");
        assert_eq!(a.idempotency_key.len(), 64);
        assert_ne!(a.idempotency_key, b.idempotency_key);
        assert_ne!(a.idempotency_key, c.idempotency_key);
        assert_eq!(a, events()[0]);
        let json = serde_json::to_value(&a).expect("json");
        let keys: Vec<&str> =
            json.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 7, "{keys:?}");
        assert_eq!(json["at"], "2027-01-15T08:00:00.000000005Z");
    }

    #[tokio::test]
    async fn a_receiver_failing_twice_gets_each_transition_exactly_once() {
        let (url, seen) = receiver(2).await;
        let (notifier, task) = Notifier::start(vec![hook(url)], None);
        for event in events() {
            assert!(notifier.notify(Notice::from(&event)));
        }
        drop(notifier);
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("delivered")
            .expect("task");
        let seen = seen.lock().expect("lock");
        let expected: Vec<String> = events().into_iter().map(|e| e.idempotency_key).collect();
        assert_eq!(seen.accepted, expected, "each transition accepted once, in order");
        assert_eq!(seen.requests.len(), 5, "two refused attempts, then one per event");
        assert_eq!(
            seen.requests[..3],
            [expected[0].clone(), expected[0].clone(), expected[0].clone()]
        );
        assert_eq!(seen.bodies[1]["control"], "PR.DS-1");
        assert_eq!(seen.bodies[1]["from"], serde_json::Value::Null);
        assert_eq!(seen.requests.iter().collect::<HashSet<_>>().len(), 3);
    }

    #[tokio::test]
    async fn delivery_gives_up_or_stops_on_a_refusal() {
        let (url, seen) = receiver(usize::MAX).await;
        let client = reqwest::Client::new();
        let mut short = hook(url);
        short.max_attempts = 3;
        let error =
            deliver(&client, &short, &Notice::from(&events()[0])).await.expect_err("always 503");
        assert!(matches!(error, DeliveryError::GaveUp { attempts: 3, .. }), "{error}");
        assert_eq!(seen.lock().expect("lock").requests.len(), 3);
        let closed: reqwest::Url = "http://user:pw@127.0.0.1:1/x?token=t".parse().expect("url");
        let error = deliver(&client, &hook(closed), &Notice::from(&events()[0]))
            .await
            .expect_err("closed port");
        let message = error.to_string();
        assert!(message.contains("http://127.0.0.1:1/x ") && !message.contains("pw"), "{message}");
    }

    /// Polls until the receiver accepted `count` events, or 30 s passed.
    async fn wait_for(seen: &Arc<Mutex<Received>>, count: usize) {
        for _ in 0..300 {
            if seen.lock().expect("lock").accepted.len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn expiring_controls(seen: &Received) -> Vec<String> {
        let bodies = seen.bodies.iter().filter(|b| b["schema"] == "beweis-expiring");
        let mut controls: Vec<String> =
            bodies.map(|b| b["control"].as_str().unwrap_or_default().to_owned()).collect();
        controls.sort();
        controls
    }

    #[tokio::test]
    async fn evidence_about_to_expire_is_announced_once_across_reevaluations_and_restarts() {
        use crate::runner::Runner;
        let mut host = crate::feed::tests::Host::rich(31).await;
        // The attestation of PR.AC-1 expires tonight; the checks' evidence (48 h) is fresh.
        let tomorrow = Utc::now().date_naive() + chrono::Days::new(1);
        let profile = crate::feed::tests::rich_profile(host.dir.path()).replacen(
            "expires = \"2099-01-15\"",
            &format!("expires = \"{tomorrow}\""),
            1,
        );
        host.config = crate::config::parse_str(&profile, "<expiring>").expect("profile");
        host.collect().await;
        let (url, seen) = receiver(2).await;
        let mut config = host.config.clone();
        config.agent.webhook_expiry_lead = chrono::Duration::hours(72);
        // The daemon starts without hooks; the reload brings the receiver in.
        let runner = Runner::new(Arc::new(config.clone()), host.store.clone(), host.key.clone());
        let (notifier, _task) = Notifier::start(Vec::new(), Some(host.store.clone()));
        runner.set_notifier(notifier);
        runner.refresh_controls().await.expect("evaluated without hooks");
        assert!(seen.lock().expect("lock").requests.is_empty(), "no hook, nothing sent");
        config.agent.webhooks = vec![url];
        runner.replace_config(Arc::new(config.clone()));
        let states = runner.refresh_controls().await.expect("evaluated");
        let in_72_hours = |id: &str| {
            let state = states.iter().find(|s| s.control == id).expect("control");
            let expires = state.evidence.as_ref().and_then(|e| e.expires_at).expect("expiry");
            expires - Utc::now() < chrono::Duration::hours(72)
        };
        assert!(in_72_hours("ID.AM-1"), "within the lead, but not half-way through 48 h");
        let expected = vec!["PR.AC-1".to_owned()];
        wait_for(&seen, expected.len()).await;
        runner.refresh_controls().await.expect("evaluated again");
        drop(runner);
        // A restarted daemon: a new runner and notifier over the same store.
        let runner = Runner::new(Arc::new(config), host.store.clone(), host.key.clone());
        let (notifier, _task) = Notifier::start(Vec::new(), Some(host.store.clone()));
        runner.set_notifier(notifier);
        assert_eq!(runner.requeue_unfinished_notices().await.expect("outbox"), 0);
        runner.refresh_controls().await.expect("evaluated after the restart");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let received = seen.lock().expect("lock");
        assert_eq!(expiring_controls(&received), expected, "each expiring evidence once");
        assert_eq!(received.requests.len(), received.accepted.len() + 2, "two refusals");
        let keys: HashSet<&String> = received.accepted.iter().collect();
        assert_eq!(keys.len(), received.accepted.len(), "no event accepted twice");
        let first = received.bodies.iter().find(|b| b["schema"] == "beweis-expiring");
        let keys = first.and_then(|b| b.as_object()).map(|o| o.len());
        assert_eq!(keys, Some(7), "{:?}", received.bodies);
    }

    #[tokio::test]
    async fn an_event_claimed_before_a_restart_is_delivered_after_it() {
        let host = crate::feed::tests::Host::new(32).await;
        let event = &events()[0];
        let notice = Notice::from(event);
        let at = Utc::now();
        assert!(host.store.claim_notice(&notice.key, &notice.body, at).await.expect("claim"));
        assert!(!host.store.claim_notice(&notice.key, &notice.body, at).await.expect("again"));
        let (url, seen) = receiver(0).await;
        let mut config = host.config.clone();
        config.agent.webhooks = vec![url];
        let runner =
            crate::runner::Runner::new(Arc::new(config), host.store.clone(), host.key.clone());
        let (notifier, _task) = Notifier::start(Vec::new(), Some(host.store.clone()));
        runner.set_notifier(notifier);
        assert_eq!(runner.requeue_unfinished_notices().await.expect("outbox"), 1);
        wait_for(&seen, 1).await;
        assert_eq!(seen.lock().expect("lock").accepted, vec![event.idempotency_key.clone()]);
        for _ in 0..50 {
            if host.store.unfinished_notices().await.expect("outbox").is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the delivered event stays unfinished");
    }

    #[tokio::test]
    async fn finished_events_are_forgotten_only_when_old() {
        let host = crate::feed::tests::Host::new(33).await;
        let notice = Notice::from(&events()[1]);
        let long_ago = Utc::now() - chrono::Duration::days(400);
        assert!(host.store.claim_notice(&notice.key, &notice.body, long_ago).await.expect("a"));
        let young = Notice::from(&events()[2]);
        assert!(host.store.claim_notice(&young.key, &young.body, Utc::now()).await.expect("b"));
        let cutoff = Utc::now() - chrono::Duration::days(367);
        assert_eq!(host.store.forget_finished_notices(cutoff).await.expect("forget"), 0);
        for key in [&notice.key, &young.key] {
            host.store.finish_notice(key, Utc::now()).await.expect("finish");
        }
        assert_eq!(host.store.forget_finished_notices(cutoff).await.expect("forget"), 1);
        assert!(host.store.claim_notice(&notice.key, &notice.body, Utc::now()).await.expect("c"));
        assert!(!host.store.claim_notice(&young.key, &young.body, Utc::now()).await.expect("d"));
    }
}
