//! Webhooks: status transitions POSTed as JSON, with retries, backoff and an idempotency key.
//!
//! A [`Notifier`] takes events without waiting (a bounded queue; when it is full the event is
//! dropped with a warning), and one background task delivers them in order to every configured
//! hook. Each delivery is retried on connection errors, timeouts, 408, 429 and 5xx, with
//! exponential backoff, up to a fixed number of attempts; other 4xx answers end it at once.
//! Every attempt of one event carries the same `Idempotency-Key` header (also in the body),
//! so a receiver can drop the duplicates a retry after a lost answer produces. The payload is
//! allow-listed like the feed: control id, status words, time; never reasons or evidence.
//! Neighbours: the daemon hands transitions over (`store::Transition`); nothing here blocks
//! collection.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tracing::warn;

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
        let mut hasher = Sha256::new();
        for part in [key_id, control, from.unwrap_or(""), to, &at] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        TransitionEvent {
            schema: "beweis-transition",
            version: 1,
            idempotency_key: hex::encode(hasher.finalize()),
            control: control.to_owned(),
            from: from.map(str::to_owned),
            to: to.to_owned(),
            at,
        }
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

/// Delivers `event` to `hook`, retrying; returns the number of attempts made.
pub(crate) async fn deliver(
    client: &reqwest::Client,
    hook: &Webhook,
    event: &TransitionEvent,
) -> Result<u32, DeliveryError> {
    let url = scrubbed(&hook.url);
    let mut backoff = hook.first_backoff;
    let mut last = String::new();
    for attempt in 1..=hook.max_attempts.max(1) {
        match attempt_once(client, hook, event).await {
            Ok(()) => return Ok(attempt),
            Err(Attempt::Permanent(status)) => {
                let key = event.idempotency_key.clone();
                return Err(DeliveryError::Refused { url, key, status });
            }
            Err(Attempt::Retry(why)) => last = why,
        }
        if attempt < hook.max_attempts {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
    let key = event.idempotency_key.clone();
    Err(DeliveryError::GaveUp { url, key, attempts: hook.max_attempts.max(1), last })
}

enum Attempt {
    Retry(String),
    Permanent(u16),
}

async fn attempt_once(
    client: &reqwest::Client,
    hook: &Webhook,
    event: &TransitionEvent,
) -> Result<(), Attempt> {
    let response = client
        .post(hook.url.clone())
        .timeout(hook.timeout)
        .header("Idempotency-Key", &event.idempotency_key)
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(event).expect("an event has string keys"))
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

/// The queue in front of the delivery task.
#[derive(Debug, Clone)]
pub(crate) struct Notifier {
    sender: mpsc::Sender<TransitionEvent>,
}

impl Notifier {
    /// Starts the delivery task for `hooks`; it ends when every `Notifier` clone is dropped.
    pub(crate) fn start(hooks: Vec<Webhook>) -> (Notifier, tokio::task::JoinHandle<()>) {
        let (sender, mut receiver) = mpsc::channel::<TransitionEvent>(QUEUE);
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default();
            while let Some(event) = receiver.recv().await {
                for hook in &hooks {
                    if let Err(e) = deliver(&client, hook, &event).await {
                        warn!(error = %e, "Webhook delivery failed.");
                    }
                }
            }
        });
        (Notifier { sender }, task)
    }

    /// Queues `event` without waiting; `false` when the queue is full and it was dropped.
    pub(crate) fn notify(&self, event: TransitionEvent) -> bool {
        match self.sender.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                warn!("Webhook queue full, a transition was dropped.");
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
        let (notifier, task) = Notifier::start(vec![hook(url)]);
        for event in events() {
            assert!(notifier.notify(event));
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
        let error = deliver(&client, &short, &events()[0]).await.expect_err("always 503");
        assert!(matches!(error, DeliveryError::GaveUp { attempts: 3, .. }), "{error}");
        assert_eq!(seen.lock().expect("lock").requests.len(), 3);
        let closed: reqwest::Url = "http://user:pw@127.0.0.1:1/x?token=t".parse().expect("url");
        let error = deliver(&client, &hook(closed), &events()[0]).await.expect_err("closed port");
        let message = error.to_string();
        assert!(message.contains("http://127.0.0.1:1/x ") && !message.contains("pw"), "{message}");
    }
}
