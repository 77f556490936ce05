//! Connections to one endpoint address: connect, STARTTLS, send a hello, read the flight.
//!
//! Owns the timeouts of every probe (connect, each read, and a cap on the whole reply) and the
//! plain-text STARTTLS dialogues for SMTP, IMAP and POP3, which follow the server step by step:
//! the whole greeting first, one command at a time, each reply read to its last line. It
//! decides nothing about TLS support: `wire` parses what is read and `probe` classifies it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use super::wire::{End, Flight, FlightParser, Until};

/// The plain-text protocols that can upgrade to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Starttls {
    /// SMTP (RFC 3207).
    Smtp,
    /// IMAP (RFC 3501).
    Imap,
    /// POP3 (RFC 2595).
    Pop3,
}

/// Where and how to connect for every probe of one endpoint address.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    /// The address connected to.
    pub(crate) addr: SocketAddr,
    /// STARTTLS protocol spoken before TLS, if any.
    pub(crate) starttls: Option<Starttls>,
    /// The limit on one TCP connect.
    pub(crate) connect_timeout: Duration,
    /// The limit on each read (a stall longer than this ends the probe).
    pub(crate) read_timeout: Duration,
    /// How many times a STARTTLS dialogue that lacks STARTTLS is retried.
    pub(crate) starttls_attempts: u32,
}

/// Why a connection could not be used for a probe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NetError {
    /// TCP connect failed (refused, unreachable).
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// The system's message.
        message: String,
    },
    /// TCP connect did not finish in time.
    #[error("connect to {0} timed out")]
    ConnectTimeout(SocketAddr),
    /// No hello got a single byte back before the read timeout.
    #[error("no reply from {0} to any hello within the read timeout")]
    NoReply(SocketAddr),
    /// The plain-text dialogue before TLS failed.
    #[error("starttls with {addr} failed: {message}")]
    Starttls {
        /// The address.
        addr: SocketAddr,
        /// What went wrong, with the server's line where there is one.
        message: String,
    },
    /// The server's capability list lacked STARTTLS on every attempt.
    #[error("{addr} did not offer starttls on {attempts} attempts")]
    StarttlsNotOffered {
        /// The address.
        addr: SocketAddr,
        /// Attempts made.
        attempts: u32,
    },
}

/// The most bytes read for one flight: a long certificate chain fits, a flood does not.
const MAX_FLIGHT_BYTES: usize = 256 * 1024;
/// The longest plain-text line accepted in a STARTTLS dialogue.
const MAX_LINE_BYTES: usize = 4096;
/// The most lines of one plain-text reply.
const MAX_REPLY_LINES: usize = 100;

impl Dialer {
    /// Connects and runs the STARTTLS dialogue; returns the stream ready for a ClientHello and
    /// how many attempts lacked STARTTLS.
    pub(crate) async fn open(&self) -> Result<(TcpStream, u32), NetError> {
        let mut missing = 0;
        loop {
            let mut stream = self.connect().await?;
            let Some(protocol) = self.starttls else {
                return Ok((stream, 0));
            };
            match self.upgrade(&mut stream, protocol).await {
                Ok(()) => return Ok((stream, missing)),
                Err(Upgrade::NotOffered) => {
                    missing += 1;
                    if missing >= self.starttls_attempts {
                        return Err(NetError::StarttlsNotOffered {
                            addr: self.addr,
                            attempts: missing,
                        });
                    }
                }
                Err(Upgrade::Failed(message)) => {
                    return Err(NetError::Starttls { addr: self.addr, message })
                }
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream, NetError> {
        match timeout(self.connect_timeout, TcpStream::connect(self.addr)).await {
            Err(_) => Err(NetError::ConnectTimeout(self.addr)),
            Ok(Err(error)) => Err(NetError::Connect {
                addr: self.addr,
                message: error.to_string().to_lowercase(),
            }),
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
        }
    }

    /// Writes `bytes` on `stream` and reads the reply flight within the read timeouts.
    pub(crate) async fn send_and_read(
        &self,
        stream: &mut TcpStream,
        bytes: &[u8],
        until: Until,
    ) -> Flight {
        let mut parser = FlightParser::default();
        match timeout(self.read_timeout, stream.write_all(bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return parser.finish(End::Closed),
            Err(_) => return parser.finish(End::Timeout),
        }
        let mut buffer = vec![0u8; 16 * 1024];
        let mut total = 0usize;
        // The whole flight must arrive within a few read timeouts, whatever the drip rate.
        let deadline = Instant::now() + self.read_timeout * 3;
        loop {
            let left = deadline.saturating_duration_since(Instant::now()).min(self.read_timeout);
            match timeout(left, stream.read(&mut buffer)).await {
                Err(_) => return parser.finish(End::Timeout),
                Ok(Err(_)) | Ok(Ok(0)) => return parser.finish(End::Closed),
                Ok(Ok(n)) => {
                    total += n;
                    if parser.push(&buffer[..n], until) {
                        return parser.finish(End::Closed);
                    }
                    if total > MAX_FLIGHT_BYTES {
                        let reason = format!("reply larger than {MAX_FLIGHT_BYTES} bytes");
                        return parser.finish(End::Malformed(reason));
                    }
                }
            }
        }
    }

    async fn upgrade(&self, stream: &mut TcpStream, protocol: Starttls) -> Result<(), Upgrade> {
        let mut lines = LineReader { stream, read_timeout: self.read_timeout, pending: Vec::new() };
        match protocol {
            Starttls::Smtp => smtp(&mut lines).await,
            Starttls::Imap => imap(&mut lines).await,
            Starttls::Pop3 => pop3(&mut lines).await,
        }
    }
}

/// Why a STARTTLS dialogue did not reach TLS.
#[derive(Debug)]
enum Upgrade {
    /// The capability list lacked STARTTLS (may differ between attempts).
    NotOffered,
    /// Anything else, with the reason.
    Failed(String),
}

async fn smtp(lines: &mut LineReader<'_>) -> Result<(), Upgrade> {
    let greeting = lines.smtp_reply().await?;
    expect_code(&greeting, "220")?;
    lines.send(b"EHLO beweis.invalid\r\n").await?;
    let ehlo = lines.smtp_reply().await?;
    expect_code(&ehlo, "250")?;
    let offered = ehlo
        .iter()
        .any(|line| line.get(4..).is_some_and(|rest| rest.trim().eq_ignore_ascii_case("starttls")));
    if !offered {
        return Err(Upgrade::NotOffered);
    }
    lines.send(b"STARTTLS\r\n").await?;
    let ready = lines.smtp_reply().await?;
    expect_code(&ready, "220")
}

async fn imap(lines: &mut LineReader<'_>) -> Result<(), Upgrade> {
    let greeting = lines.line().await?;
    if !greeting.starts_with("* OK") {
        return Err(Upgrade::Failed(format!("unexpected greeting: {greeting}")));
    }
    lines.send(b"a1 CAPABILITY\r\n").await?;
    let capabilities = lines.tagged("a1").await?;
    if !capabilities.iter().any(|line| line.to_ascii_uppercase().contains("STARTTLS")) {
        return Err(Upgrade::NotOffered);
    }
    lines.send(b"a2 STARTTLS\r\n").await?;
    let reply = lines.tagged("a2").await?;
    match reply.last() {
        Some(line) if line.starts_with("a2 OK") => Ok(()),
        other => Err(Upgrade::Failed(format!("starttls refused: {other:?}"))),
    }
}

async fn pop3(lines: &mut LineReader<'_>) -> Result<(), Upgrade> {
    let greeting = lines.line().await?;
    if !greeting.starts_with("+OK") {
        return Err(Upgrade::Failed(format!("unexpected greeting: {greeting}")));
    }
    lines.send(b"CAPA\r\n").await?;
    let first = lines.line().await?;
    if !first.starts_with("+OK") {
        return Err(Upgrade::NotOffered);
    }
    let mut offered = false;
    for _ in 0..MAX_REPLY_LINES {
        let line = lines.line().await?;
        if line == "." {
            break;
        }
        offered |= line.eq_ignore_ascii_case("stls");
    }
    if !offered {
        return Err(Upgrade::NotOffered);
    }
    lines.send(b"STLS\r\n").await?;
    let reply = lines.line().await?;
    if reply.starts_with("+OK") {
        Ok(())
    } else {
        Err(Upgrade::Failed(format!("stls refused: {reply}")))
    }
}

fn expect_code(reply: &[String], code: &str) -> Result<(), Upgrade> {
    match reply.last() {
        Some(line) if line.starts_with(code) => Ok(()),
        Some(line) => Err(Upgrade::Failed(format!("expected {code}, got: {line}"))),
        None => Err(Upgrade::Failed("empty reply".to_string())),
    }
}

/// Reads CRLF lines one at a time without reading past the line asked for, so that no TLS
/// byte is ever swallowed.
struct LineReader<'a> {
    stream: &'a mut TcpStream,
    read_timeout: Duration,
    pending: Vec<u8>,
}

impl LineReader<'_> {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), Upgrade> {
        match timeout(self.read_timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Upgrade::Failed(format!("write failed: {error}"))),
            Err(_) => Err(Upgrade::Failed("write timed out".to_string())),
        }
    }

    /// One line without its line ending; byte-by-byte so nothing after it is consumed.
    async fn line(&mut self) -> Result<String, Upgrade> {
        let deadline = Instant::now() + self.read_timeout;
        let mut byte = [0u8; 1];
        loop {
            if self.pending.len() > MAX_LINE_BYTES {
                return Err(Upgrade::Failed("line too long".to_string()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.stream.read(&mut byte)).await {
                Err(_) => return Err(Upgrade::Failed("server stalled".to_string())),
                Ok(Err(error)) => return Err(Upgrade::Failed(format!("read failed: {error}"))),
                Ok(Ok(0)) => return Err(Upgrade::Failed("server closed".to_string())),
                Ok(Ok(_)) if byte[0] == b'\n' => {
                    let line = String::from_utf8_lossy(&self.pending).trim_end().to_string();
                    self.pending.clear();
                    return Ok(line);
                }
                Ok(Ok(_)) => self.pending.push(byte[0]),
            }
        }
    }

    /// An SMTP reply: lines up to the one whose fourth byte is a space.
    async fn smtp_reply(&mut self) -> Result<Vec<String>, Upgrade> {
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = self.line().await?;
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(lines);
            }
        }
        Err(Upgrade::Failed("smtp reply too long".to_string()))
    }

    /// IMAP lines up to the tagged completion line.
    async fn tagged(&mut self, tag: &str) -> Result<Vec<String>, Upgrade> {
        let mut lines = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let line = self.line().await?;
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return Ok(lines);
            }
        }
        Err(Upgrade::Failed("imap reply too long".to_string()))
    }
}
