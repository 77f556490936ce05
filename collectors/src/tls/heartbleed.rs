//! The Heartbleed probe (CVE-2014-0160), done the safe way.
//!
//! Owns one connection: a ≤ TLS 1.2 hello offering the heartbeat extension, read up to
//! ServerHelloDone, then two heartbeat requests in plaintext records: first one whose
//! `payload_length` claims more than it carries, then a well-formed one. A fixed server drops
//! the first silently (RFC 6520, 4) and echoes the second exactly, or refuses heartbeats with an
//! alert; a vulnerable one answers the first with more bytes than were sent. The leaked bytes
//! are counted, never kept: evidence holds only the heartbeat record's header and length. A
//! server that does not enable the extension is not vulnerable; `probe` decides what to offer.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::net::Dialer;
use super::probe::{alert_text, end_reason, Feature};
use super::wire::{Alert, ClientHello, End, Until, EXT_HEARTBEAT};

/// The payload both requests carry.
const PAYLOAD: usize = 16;
/// What the over-long request claims; a vulnerable server sends this many payload bytes.
const CLAIMED: u16 = 64;
/// Heartbeat record content type (RFC 6520).
const HEARTBEAT: u8 = 24;

/// Runs the probe with `hello` (the heartbeat extension is added here).
pub(crate) async fn probe(dialer: &Dialer, mut hello: ClientHello) -> Feature {
    hello.heartbeat = true;
    let Ok((mut stream, _)) = dialer.open().await else {
        return Feature::new("inconclusive", "no connection", None);
    };
    let flight = dialer.send_and_read(&mut stream, &hello.encode(), Until::HelloDone).await;
    let End::Hello(server) = &flight.end else {
        return Feature::new("inconclusive", end_reason(&flight.end), Some(&flight));
    };
    if server.extension(EXT_HEARTBEAT).is_none() {
        return Feature::new("not_vulnerable", "heartbeat extension not enabled", Some(&flight));
    }
    let payload: [u8; PAYLOAD] = std::array::from_fn(|i| 0xb0 + i as u8);
    let mut requests = request(server.legacy_version, CLAIMED, &payload);
    requests.extend(request(server.legacy_version, PAYLOAD as u16, &payload));
    let write = tokio::io::AsyncWriteExt::write_all(&mut stream, &requests);
    if !matches!(timeout(dialer.read_timeout, write).await, Ok(Ok(()))) {
        return Feature::new("inconclusive", "heartbeat requests could not be sent", None);
    }
    classify(read_answer(&mut stream, dialer).await, &payload)
}

/// A heartbeat_request record: type 1, `claimed`, the payload, 16 bytes of padding.
fn request(version: u16, claimed: u16, payload: &[u8]) -> Vec<u8> {
    let mut message = vec![1];
    message.extend_from_slice(&claimed.to_be_bytes());
    message.extend_from_slice(payload);
    message.extend_from_slice(&[0x5a; 16]);
    let mut record = vec![HEARTBEAT];
    record.extend_from_slice(&version.to_be_bytes());
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend(message);
    record
}

/// What came back after the requests.
#[derive(Debug)]
enum Answer {
    /// A heartbeat record: its header and the content.
    Heartbeat([u8; 5], Vec<u8>),
    Alert(Alert),
    Closed,
    Timeout,
    Other(String),
}

/// Reads records until a heartbeat response, an alert, the end of the connection, or the read
/// timeout; other handshake records and survivable warning alerts are skipped.
async fn read_answer(stream: &mut TcpStream, dialer: &Dialer) -> Answer {
    let deadline = Instant::now() + dialer.read_timeout;
    for _ in 0..8 {
        let mut header = [0u8; 5];
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, stream.read_exact(&mut header)).await {
            Err(_) => return Answer::Timeout,
            Ok(Err(_)) => return Answer::Closed,
            Ok(Ok(_)) => {}
        }
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if length > super::wire::MAX_RECORD_PAYLOAD {
            return Answer::Other(format!("oversized record of {length} bytes"));
        }
        let mut content = vec![0u8; length];
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, stream.read_exact(&mut content)).await {
            Err(_) => return Answer::Timeout,
            Ok(Err(_)) => return Answer::Closed,
            Ok(Ok(_)) => {}
        }
        match header[0] {
            HEARTBEAT => return Answer::Heartbeat(header, content),
            21 if content.len() == 2 => {
                // As everywhere: warnings that a handshake survives are skipped.
                let alert = Alert { level: content[0], description: content[1] };
                if alert.is_fatal() {
                    return Answer::Alert(alert);
                }
            }
            22 => continue,
            kind => return Answer::Other(format!("record type {kind}")),
        }
    }
    Answer::Other("no heartbeat response among the records sent".into())
}

fn classify(answer: Answer, payload: &[u8]) -> Feature {
    let feature = |status, reason: String, hex: String| Feature {
        status,
        reason: Some(reason),
        reply_hex: hex,
    };
    match answer {
        Answer::Heartbeat(header, content) => {
            // Evidence: the record header, type and length; never the echoed bytes.
            let evidence = hex::encode([&header[..], &content[..content.len().min(3)]].concat());
            let claimed = content.get(1..3).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            let echo = content.get(3..3 + PAYLOAD.min(content.len().saturating_sub(3)));
            match claimed {
                Some(length) if length > payload.len() && content.len() > 3 + payload.len() => {
                    let extra = length - payload.len();
                    let reason = format!(
                        "over-long heartbeat answered with {length} payload bytes for \
                         {} sent: {extra} bytes of server memory",
                        payload.len()
                    );
                    feature("vulnerable", reason, evidence)
                }
                Some(length) if length == payload.len() && echo == Some(payload) => feature(
                    "not_vulnerable",
                    "over-long heartbeat ignored, well-formed one echoed exactly".into(),
                    evidence,
                ),
                _ => feature("inconclusive", "unexpected heartbeat response".into(), evidence),
            }
        }
        Answer::Alert(alert) => feature(
            "not_vulnerable",
            format!("heartbeat requests refused: {}", alert_text(&alert)),
            hex::encode([21, alert.level, alert.description]),
        ),
        Answer::Closed => feature(
            "not_vulnerable",
            "connection closed without a heartbeat response".into(),
            String::new(),
        ),
        Answer::Timeout => feature(
            "not_vulnerable",
            "heartbeat requests ignored (no response within the read timeout)".into(),
            String::new(),
        ),
        Answer::Other(reason) => feature("inconclusive", reason, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_long_request_claims_more_than_it_carries() {
        let record = request(0x0303, CLAIMED, &[7; PAYLOAD]);
        assert_eq!(&record[..5], &[24, 3, 3, 0, 35]);
        assert_eq!(&record[5..8], &[1, 0, 64]);
        assert_eq!(record.len(), 5 + 1 + 2 + PAYLOAD + 16);
    }

    #[test]
    fn extra_bytes_are_vulnerable_an_exact_echo_is_not() {
        let payload = [9u8; PAYLOAD];
        let mut leak = vec![2, 0, 64];
        leak.extend([9u8; 64 + 16]);
        let verdict = classify(Answer::Heartbeat([24, 3, 3, 0, 83], leak), &payload);
        assert_eq!(verdict.status, "vulnerable");
        assert_eq!(verdict.reply_hex, "1803030053020040");
        let mut echo = vec![2, 0, 16];
        echo.extend([9u8; PAYLOAD + 16]);
        let verdict = classify(Answer::Heartbeat([24, 3, 3, 0, 35], echo), &payload);
        assert_eq!(verdict.status, "not_vulnerable");
        let alert = classify(Answer::Alert(Alert { level: 2, description: 10 }), &payload);
        assert_eq!(
            (alert.status, alert.reason.as_deref()),
            (
                "not_vulnerable",
                Some("heartbeat requests refused: fatal alert 10 (unexpected_message)")
            )
        );
    }
}
