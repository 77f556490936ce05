//! The handshake probes of one endpoint address, and what each reply means.
//!
//! Owns the scan plan: which ClientHellos to send (one fresh connection each), in which order,
//! and how each reply becomes `supported`, `not_supported` or `inconclusive(<reason>)` with the
//! reply's first bytes kept as evidence. Protocol versions, accepted suites per version (by
//! removing the chosen suite and offering the rest again, and one suite per hello when the
//! server answers with suites it was not offered), server order, key-exchange groups, DH size,
//! secure renegotiation, compression and TLS_FALLBACK_SCSV are probed here; Heartbleed is
//! `heartbleed`'s probe and client-initiated renegotiation `renegotiation`'s. Every ≤ TLS 1.2
//! hello carries TLS_EMPTY_RENEGOTIATION_INFO_SCSV. A single alert to one hello shape is no
//! proof of absence: a version refused by alert is asked again with another shape (RFC 5746
//! signalling added everywhere), and a shape that works is used for every later hello.
//! Independent phases (the suites of each version, then groups, weaknesses and ROBOT) run side
//! by side, each on its own connections. Only bytes the server sent decide; this module never
//! uses a TLS library. Certificates are `cert`'s work.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::net::{Dialer, NetError};
use super::suites::{
    group_ids, group_name, is_dhe, is_ecdhe, is_rsa_kx, legacy_suites, suite_bits, suite_families,
    suite_name, version_name, GROUPS, TLS13_SUITES, VERSIONS,
};
use super::wire::{
    key_exchange_params, Alert, ClientHello, End, Flight, ServerHello, Until, SCSV_FALLBACK,
    SCSV_RENEGOTIATION, TLS13,
};

/// How many probe connections of one endpoint address are open at the same time, over all
/// phases running side by side.
const PROBE_CONCURRENCY: usize = 12;

/// The three probe outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// The server's bytes show support.
    Supported,
    /// The server's bytes show no support.
    NotSupported,
    /// The server's bytes (or their absence) decide nothing.
    Inconclusive,
}

/// One probe verdict with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Verdict {
    /// The outcome.
    pub(crate) status: Status,
    /// Why, for `inconclusive` and `not_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The first bytes the server sent, hex.
    pub(crate) reply_hex: String,
    /// Warning alerts that came before the decisive record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
}

/// A weakness or feature check: `supported`, `not_supported`, `not_applicable`,
/// `inconclusive`, `vulnerable`, `not_vulnerable`, `not_tested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Feature {
    /// The outcome word.
    pub(crate) status: &'static str,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// The first reply bytes of the deciding probe, hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) reply_hex: String,
}

impl Feature {
    pub(crate) fn new(
        status: &'static str,
        reason: impl Into<String>,
        flight: Option<&Flight>,
    ) -> Feature {
        let reason = reason.into();
        Feature {
            status,
            reason: (!reason.is_empty()).then_some(reason),
            reply_hex: flight.map(|f| hex::encode(&f.head)).unwrap_or_default(),
        }
    }
}

/// One accepted suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AcceptedSuite {
    /// `0xc02f`.
    pub(crate) id: String,
    /// IANA name.
    pub(crate) name: String,
    /// Families (rc4, 3des, export, null, anon, forward_secrecy, aead, …).
    pub(crate) families: Vec<&'static str>,
    /// Symmetric key bits.
    pub(crate) bits: u16,
}

/// The suites of one protocol version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct SuiteList {
    /// Accepted suites, in the order found (the server's preference when it enforces one).
    pub(crate) accepted: Vec<AcceptedSuite>,
    /// Whether the server picks by its own order; `None` with fewer than two suites.
    pub(crate) server_order: Option<bool>,
    /// Whether suites had to be probed one per hello because the server broke the protocol.
    pub(crate) one_per_hello: bool,
    /// Probes whose reply decided nothing, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) inconclusive: Vec<String>,
}

/// A ServerHello that broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Violation {
    /// The version probed.
    pub(crate) version: String,
    /// What is wrong.
    pub(crate) finding: String,
    /// The offered suites, hex (at most the first 16).
    pub(crate) offered: Vec<String>,
    /// How many suites were offered.
    pub(crate) offered_count: usize,
    /// The suite the server returned, hex.
    pub(crate) returned: String,
}

/// HelloRetryRequest evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RetryInfo {
    /// The group the server asked for, e.g. `0x0018`.
    pub(crate) requested_group: String,
    /// Its name, e.g. `secp384r1`.
    pub(crate) requested_group_name: String,
    /// The group of the ServerHello after the second ClientHello, if it came.
    pub(crate) negotiated_group: Option<String>,
}

/// Key-exchange groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Groups {
    /// Groups accepted with TLS 1.3.
    pub(crate) tls1_3: Vec<String>,
    /// Groups accepted with ECDHE under TLS 1.2 or lower.
    pub(crate) ecdhe: Vec<String>,
    /// The TLS 1.3 group negotiated when every group is offered with an x25519 key share.
    pub(crate) tls1_3_negotiated: Option<String>,
    /// Size in bits of the DHE prime, when DHE suites are accepted.
    pub(crate) dh_bits: Option<u32>,
    /// The weakest group strength seen, in RSA-equivalent bits (for grading).
    pub(crate) weakest_strength: Option<u32>,
}

/// Everything the handshake probes found about one endpoint address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct ProbeReport {
    /// Per version name: the verdict.
    pub(crate) protocols: BTreeMap<String, Verdict>,
    /// Per version name: the accepted suites.
    pub(crate) suites: BTreeMap<String, SuiteList>,
    /// Groups and DH size.
    pub(crate) groups: Groups,
    /// A HelloRetryRequest seen while probing TLS 1.3.
    pub(crate) hello_retry_request: Option<RetryInfo>,
    /// Server protocol violations.
    pub(crate) violations: Vec<Violation>,
    /// Secure renegotiation (RFC 5746) in the ServerHello.
    pub(crate) secure_renegotiation: Option<Feature>,
    /// Whether hellos without RFC 5746 signalling are rejected.
    pub(crate) requires_renegotiation_signalling: Option<bool>,
    /// TLS compression.
    pub(crate) compression: Option<Feature>,
    /// TLS_FALLBACK_SCSV.
    pub(crate) fallback_scsv: Option<Feature>,
    /// The heartbeat extension and Heartbleed.
    pub(crate) heartbleed: Option<Feature>,
    /// Client-initiated renegotiation.
    pub(crate) client_renegotiation: Option<Feature>,
    /// How hellos are shaped, when the first shape was refused and another one worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hello_shape: Option<String>,
    /// ROBOT, over several rounds.
    pub(crate) robot: Option<super::robot::Robot>,
    /// Warning alerts seen, described.
    pub(crate) warning_alerts: Vec<String>,
    /// STARTTLS attempts that lacked STARTTLS.
    pub(crate) starttls_missing_attempts: u32,
    /// Probes that could not connect.
    pub(crate) connect_errors: Vec<String>,
    /// Certificates from a ≤ TLS 1.2 Certificate message (DER), for when rustls cannot talk.
    #[serde(skip)]
    pub(crate) raw_chain: Vec<Vec<u8>>,
    /// A stapled OCSP response seen in a ≤ TLS 1.2 flight (DER).
    #[serde(skip)]
    pub(crate) raw_ocsp: Option<Vec<u8>>,
    /// The protocol probes' replies, reused where a later probe would send the same hello.
    #[serde(skip)]
    protocol_flights: BTreeMap<u16, Flight>,
}

impl ProbeReport {
    /// The versions found supported, oldest first.
    pub(crate) fn supported_versions(&self) -> Vec<u16> {
        VERSIONS
            .into_iter()
            .filter(|v| {
                self.protocols
                    .get(&version_name(*v))
                    .is_some_and(|verdict| verdict.status == Status::Supported)
            })
            .collect()
    }

    /// The verdict of `version`'s protocol probe.
    pub(crate) fn status_of(&self, version: u16) -> Option<Status> {
        self.protocols.get(&version_name(version)).map(|verdict| verdict.status)
    }

    /// The versions whose probe was inconclusive (the server's answer did not decide it).
    pub(crate) fn inconclusive_versions(&self) -> Vec<String> {
        self.protocols
            .iter()
            .filter(|(_, verdict)| verdict.status == Status::Inconclusive)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Ids of the suites accepted with `version`.
    pub(crate) fn accepted_ids(&self, version: u16) -> Vec<u16> {
        self.suites
            .get(&version_name(version))
            .map(|list| list.accepted.iter().filter_map(|s| parse_hex(&s.id)).collect())
            .unwrap_or_default()
    }
}

/// The scan plan of one endpoint address.
pub(crate) struct Prober {
    dialer: Dialer,
    sni: Option<String>,
    /// Whether every hello (TLS 1.3 ones too) carries both RFC 5746 signals.
    signalling: bool,
    /// Shared by this prober's forks: the bound on open probe connections.
    limit: Arc<Semaphore>,
    report: ProbeReport,
}

/// One phase run on its own prober, side by side with the others.
#[derive(Clone, Copy)]
enum Phase {
    LegacySuites(u16),
    Tls13,
    LegacyGroups,
    Weaknesses,
    Robot,
}

impl Prober {
    /// A prober for one address; `sni` is sent in every hello (never an IP literal).
    pub(crate) fn new(dialer: Dialer, sni: Option<String>) -> Prober {
        let limit = Arc::new(Semaphore::new(PROBE_CONCURRENCY));
        Prober { dialer, sni, signalling: false, limit, report: ProbeReport::default() }
    }

    /// Runs every probe. Fails only if no probe could connect at all.
    pub(crate) async fn run(mut self) -> Result<ProbeReport, NetError> {
        self.protocols().await?;
        let supported = self.report.supported_versions();
        if supported.is_empty() {
            self.no_protocol();
            return Ok(self.report);
        }
        let mut first: Vec<Phase> =
            supported.iter().filter(|v| **v != TLS13).map(|v| Phase::LegacySuites(*v)).collect();
        if supported.contains(&TLS13) {
            first.push(Phase::Tls13);
        }
        self.run_side_by_side(first, &supported).await;
        let second = vec![Phase::LegacyGroups, Phase::Weaknesses, Phase::Robot];
        self.run_side_by_side(second, &supported).await;
        self.client_renegotiation(&supported).await;
        Ok(self.report)
    }

    /// No protocol was found, so nothing can be probed further; each check says so: not
    /// applicable when every protocol was refused, inconclusive when some answer decided nothing
    /// (a service that is not TLS, a stall).
    fn no_protocol(&mut self) {
        let (status, reason) = if self.report.inconclusive_versions().is_empty() {
            ("not_applicable", "no protocol supported")
        } else {
            ("inconclusive", "no tls protocol detected")
        };
        let report = &mut self.report;
        for slot in [
            &mut report.secure_renegotiation,
            &mut report.compression,
            &mut report.fallback_scsv,
            &mut report.heartbleed,
            &mut report.client_renegotiation,
        ] {
            *slot = Some(Feature::new(status, reason, None));
        }
        let reason = reason.to_string();
        report.robot = Some(super::robot::Robot { status, reason, rounds: Vec::new() });
    }

    /// Runs `phases` concurrently, each on a fork of this prober, and merges what they found.
    async fn run_side_by_side(&mut self, phases: Vec<Phase>, supported: &[u16]) {
        let mut tasks = JoinSet::new();
        for (index, phase) in phases.into_iter().enumerate() {
            let mut fork = self.fork();
            let supported = supported.to_vec();
            tasks.spawn(async move {
                fork.phase(phase, &supported).await;
                (index, fork.report)
            });
        }
        let mut parts = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            if let Ok(part) = joined {
                parts.push(part);
            }
        }
        parts.sort_by_key(|(index, _)| *index);
        for (_, part) in parts {
            self.merge(part);
        }
    }

    async fn phase(&mut self, phase: Phase, supported: &[u16]) {
        match phase {
            Phase::LegacySuites(version) => self.legacy_suites(version).await,
            Phase::Tls13 => {
                self.tls13_suites().await;
                self.tls13_groups().await;
            }
            Phase::LegacyGroups => self.legacy_groups(supported).await,
            Phase::Weaknesses => self.weaknesses(supported).await,
            Phase::Robot => self.robot(supported).await,
        }
    }

    /// A prober with what is known so far and empty lists for what a phase adds.
    fn fork(&self) -> Prober {
        let mut report = self.report.clone();
        report.violations.clear();
        report.warning_alerts.clear();
        report.connect_errors.clear();
        report.starttls_missing_attempts = 0;
        Prober {
            dialer: self.dialer.clone(),
            sni: self.sni.clone(),
            signalling: self.signalling,
            limit: Arc::clone(&self.limit),
            report,
        }
    }

    /// Takes what a phase found; each phase writes its own fields.
    fn merge(&mut self, part: ProbeReport) {
        let report = &mut self.report;
        report.suites.extend(part.suites);
        let groups = &mut report.groups;
        if groups.tls1_3.is_empty() {
            groups.tls1_3 = part.groups.tls1_3;
        }
        if groups.ecdhe.is_empty() {
            groups.ecdhe = part.groups.ecdhe;
        }
        groups.tls1_3_negotiated =
            groups.tls1_3_negotiated.take().or(part.groups.tls1_3_negotiated);
        groups.dh_bits = groups.dh_bits.or(part.groups.dh_bits);
        groups.weakest_strength = match (groups.weakest_strength, part.groups.weakest_strength) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        report.violations.extend(part.violations);
        for warning in part.warning_alerts {
            if !report.warning_alerts.contains(&warning) {
                report.warning_alerts.push(warning);
            }
        }
        report.connect_errors.extend(part.connect_errors);
        report.starttls_missing_attempts += part.starttls_missing_attempts;
        macro_rules! take {
            ($($field:ident),*) => { $(report.$field = report.$field.take().or(part.$field);)* };
        }
        take!(
            secure_renegotiation,
            requires_renegotiation_signalling,
            compression,
            fallback_scsv,
            heartbleed,
            client_renegotiation,
            robot
        );
    }

    fn hello(&self, version: u16, suites: Vec<u16>) -> ClientHello {
        let mut suites = suites;
        if version != TLS13 || self.signalling {
            suites.push(SCSV_RENEGOTIATION);
        }
        let mut hello = ClientHello::new(version, suites, self.sni.clone());
        hello.groups = group_ids();
        hello.renegotiation_info = self.signalling;
        if version == TLS13 {
            hello.key_shares = key_share(0x001d).into_iter().collect();
        }
        hello
    }

    /// Sends hellos concurrently (bounded); results in the same order.
    async fn send_all(
        &mut self,
        hellos: Vec<ClientHello>,
        until: Until,
    ) -> Vec<Result<Flight, NetError>> {
        let mut tasks = JoinSet::new();
        let count = hellos.len();
        let retry_hellos = if self.dialer.starttls.is_some() { hellos.clone() } else { Vec::new() };
        for (index, hello) in hellos.into_iter().enumerate() {
            let dialer = self.dialer.clone();
            let limit = Arc::clone(&self.limit);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = match dialer.open().await {
                    Ok((mut stream, missing)) => {
                        let flight =
                            dialer.send_and_read(&mut stream, &hello.encode(), until).await;
                        Ok((flight, missing))
                    }
                    Err(error) => Err(error),
                };
                (index, result)
            });
        }
        let mut results: Vec<Option<Result<(Flight, u32), NetError>>> = Vec::new();
        results.resize_with(count, || None);
        while let Some(joined) = tasks.join_next().await {
            let Ok((index, result)) = joined else { continue };
            results[index] = Some(result);
        }
        let mut sent: Vec<Option<ClientHello>> = retry_hellos.into_iter().map(Some).collect();
        sent.resize_with(count, || None);
        // When no probe of a batch got through, the endpoint does not offer STARTTLS at all:
        // no second series then.
        let any_through = count == 1 || results.iter().any(|r| matches!(r, Some(Ok(_))));
        let mut out = Vec::with_capacity(count);
        for (result, hello) in results.into_iter().zip(sent) {
            let mut result = result.unwrap_or(Err(NetError::ConnectTimeout(self.dialer.addr)));
            if let (Err(NetError::StarttlsNotOffered { attempts, .. }), Some(hello), true) =
                (&result, hello, any_through)
            {
                // A pool member that leaves STARTTLS out now and then: the probe gets one more
                // bounded series of fresh connections, alone, after the concurrent ones.
                self.report.starttls_missing_attempts += attempts;
                result = self.retry_alone(&hello, until).await;
            }
            out.push(result.map(|(flight, missing)| {
                self.report.starttls_missing_attempts += missing;
                self.note_warnings(&flight);
                flight
            }));
        }
        out
    }

    /// One probe on a fresh connection (and STARTTLS dialogue), with no other of its batch.
    async fn retry_alone(
        &self,
        hello: &ClientHello,
        until: Until,
    ) -> Result<(Flight, u32), NetError> {
        let (mut stream, missing) = self.dialer.open().await?;
        Ok((self.dialer.send_and_read(&mut stream, &hello.encode(), until).await, missing))
    }

    async fn send_one(&mut self, hello: ClientHello, until: Until) -> Result<Flight, NetError> {
        let mut results = self.send_all(vec![hello], until).await;
        results.pop().unwrap_or(Err(NetError::ConnectTimeout(self.dialer.addr)))
    }

    fn note_warnings(&mut self, flight: &Flight) {
        for alert in &flight.warnings {
            let text = describe_warning(alert, self.sni.as_deref());
            if !self.report.warning_alerts.contains(&text) {
                self.report.warning_alerts.push(text);
            }
        }
    }

    async fn protocols(&mut self) -> Result<(), NetError> {
        let all = legacy_suites();
        let hellos: Vec<ClientHello> = VERSIONS
            .iter()
            .map(|v| {
                let suites = if *v == TLS13 { TLS13_SUITES.to_vec() } else { all.clone() };
                self.hello(*v, suites)
            })
            .collect();
        let results = self.send_all(hellos, Until::HelloDone).await;
        let silent = results
            .iter()
            .all(|r| matches!(r, Ok(Flight { end: End::Timeout, head, .. }) if head.is_empty()));
        if silent {
            return Err(NetError::NoReply(self.dialer.addr));
        }
        let mut first_error = None;
        let mut connected = false;
        for (version, result) in VERSIONS.iter().copied().zip(results) {
            let verdict = match result {
                Ok(flight) => {
                    connected = true;
                    self.take_chain(&flight);
                    let verdict = self.protocol_verdict(version, &flight);
                    self.report.protocol_flights.insert(version, flight);
                    verdict
                }
                Err(error) => {
                    self.report.connect_errors.push(error.to_string());
                    first_error.get_or_insert(error.clone());
                    inconclusive(&error.to_string(), None)
                }
            };
            self.report.protocols.insert(version_name(version), verdict);
        }
        match (connected, first_error) {
            (false, Some(error)) => Err(error),
            _ => {
                self.other_shape().await;
                self.retry_request().await;
                Ok(())
            }
        }
    }

    /// Versions refused by an alert are asked again with RFC 5746 signalling in the hello
    /// (both the SCSV and the extension, TLS 1.3 hellos too): one alert to one hello shape is
    /// no proof of absence. If that shape is accepted, every later hello uses it.
    async fn other_shape(&mut self) {
        let refused: Vec<u16> = VERSIONS
            .into_iter()
            .filter(|v| {
                self.report.protocol_flights.get(v).is_some_and(|f| matches!(f.end, End::Alert(_)))
            })
            .collect();
        if refused.is_empty() {
            return;
        }
        let all = legacy_suites();
        let signalled = Prober { signalling: true, ..self.fork() };
        let hellos = refused
            .iter()
            .map(|v| {
                let suites = if *v == TLS13 { TLS13_SUITES.to_vec() } else { all.clone() };
                signalled.hello(*v, suites)
            })
            .collect();
        let results = self.send_all(hellos, Until::HelloDone).await;
        for (version, result) in refused.into_iter().zip(results) {
            let Ok(flight) = result else { continue };
            let first = self.report.protocols.get(&version_name(version)).cloned();
            let verdict = self.protocol_verdict(version, &flight);
            let first_reason = first.and_then(|v| v.reason).unwrap_or_default();
            if verdict.status != Status::Supported {
                if let Some(v) = self.report.protocols.get_mut(&version_name(version)) {
                    let again = verdict.reason.unwrap_or_default();
                    v.reason = Some(format!("{first_reason}; with rfc 5746 signalling: {again}"));
                }
                continue;
            }
            self.take_chain(&flight);
            self.signalling = true;
            self.report.hello_shape = Some(format!(
                "rfc 5746 signalling in every hello: a hello without it got {first_reason}"
            ));
            let reason =
                format!("first hello refused ({first_reason}); accepted with rfc 5746 signalling");
            self.report
                .protocols
                .insert(version_name(version), Verdict { reason: Some(reason), ..verdict });
            self.report.protocol_flights.insert(version, flight);
        }
    }

    fn take_chain(&mut self, flight: &Flight) {
        if !flight.certificates.is_empty() && self.report.raw_chain.is_empty() {
            self.report.raw_chain = flight.certificates.clone();
        }
        if self.report.raw_ocsp.is_none() {
            self.report.raw_ocsp = flight.ocsp.clone();
        }
    }

    fn protocol_verdict(&mut self, version: u16, flight: &Flight) -> Verdict {
        let End::Hello(hello) = &flight.end else {
            return end_verdict(flight);
        };
        if version == TLS13 {
            if hello.version == TLS13 {
                if hello.retry_request {
                    self.note_retry(hello);
                }
                return verdict(Status::Supported, None, flight);
            }
            let reason = format!("server answered with {}", version_name(hello.version));
            return verdict(Status::NotSupported, Some(reason), flight);
        }
        if hello.version < version {
            let reason = format!("server answered with {}", version_name(hello.version));
            return verdict(Status::NotSupported, Some(reason), flight);
        }
        if hello.version > version {
            let reason = format!(
                "server answered {} to a {} hello",
                version_name(hello.version),
                version_name(version)
            );
            return verdict(Status::Inconclusive, Some(reason), flight);
        }
        verdict(Status::Supported, None, flight)
    }

    fn note_retry(&mut self, hello: &ServerHello) {
        if let Some(group) = hello.key_share_group() {
            self.report.hello_retry_request = Some(RetryInfo {
                requested_group: format!("0x{group:04x}"),
                requested_group_name: group_name(group),
                negotiated_group: None,
            });
        }
    }

    /// After a HelloRetryRequest, completes the exchange on the same connection with a key
    /// share for the requested group, to learn the group actually negotiated.
    async fn retry_request(&mut self) {
        let Some(info) = self.report.hello_retry_request.clone() else { return };
        let Some(group) = parse_hex(&info.requested_group) else { return };
        let Some(share) = key_share(group) else { return };
        let first = self.hello(TLS13, TLS13_SUITES.to_vec());
        let Ok((mut stream, _)) = self.dialer.open().await else { return };
        let flight =
            self.dialer.send_and_read(&mut stream, &first.encode(), Until::ServerHello).await;
        let End::Hello(retry) = &flight.end else { return };
        if !retry.retry_request {
            return;
        }
        let mut second = first.clone();
        second.key_shares = vec![share];
        second.cookie = retry.cookie();
        let reply =
            self.dialer.send_and_read(&mut stream, &second.encode(), Until::ServerHello).await;
        if let End::Hello(hello) = &reply.end {
            if let (Some(group), Some(info)) =
                (hello.key_share_group(), self.report.hello_retry_request.as_mut())
            {
                info.negotiated_group = Some(group_name(group));
            }
        }
    }

    /// Suites of a ≤ TLS 1.2 version: offer all, remove the chosen one, offer the rest again.
    /// The table is split by key exchange into chunks enumerated side by side, which keeps the
    /// number of sequential round trips (and so the scan time) low.
    async fn legacy_suites(&mut self, version: u16) {
        let mut chunks: Vec<Vec<u16>> = split_by_key_exchange(legacy_suites());
        let mut list = SuiteList::default();
        let mut accepted = Vec::new();
        let mut broken = false;
        while !chunks.is_empty() && !broken {
            let hellos = chunks.iter().map(|c| self.hello(version, c.clone())).collect();
            let results = self.send_all(hellos, Until::ServerHello).await;
            let mut next = Vec::new();
            for (mut chunk, result) in chunks.into_iter().zip(results) {
                let choice = match &result {
                    Ok(flight) => chosen_suite(flight, version),
                    Err(error) => Choice::Undecided(error.to_string()),
                };
                match choice {
                    Choice::Suite(suite) if chunk.contains(&suite) => {
                        accepted.push(suite);
                        chunk.retain(|s| *s != suite);
                        if !chunk.is_empty() {
                            next.push(chunk);
                        }
                    }
                    Choice::Suite(suite) => {
                        let finding = "server hello names a suite that was not offered";
                        self.violation(version, &chunk, suite, finding);
                        broken = true;
                    }
                    Choice::Rejected => {}
                    Choice::Undecided(reason) => list.inconclusive.push(reason),
                }
            }
            chunks = next;
        }
        if broken {
            list.one_per_hello = true;
            accepted = self.one_per_hello(version, &legacy_suites(), &mut list).await;
        }
        list.server_order = self.server_order(version, &accepted).await;
        if list.server_order == Some(true) {
            accepted = self.preference_order(version, accepted).await;
        }
        list.accepted = accepted.iter().map(|id| describe_suite(*id)).collect();
        self.report.suites.insert(version_name(version), list);
    }

    /// The server's preference: offer the accepted suites, take the chosen one, offer the rest.
    /// Any surprise keeps the remaining suites in the order found.
    async fn preference_order(&mut self, version: u16, mut remaining: Vec<u16>) -> Vec<u16> {
        let mut ordered = Vec::with_capacity(remaining.len());
        while remaining.len() > 1 {
            let hello = self.hello(version, remaining.clone());
            match self.send_one(hello, Until::ServerHello).await.map(|f| chosen_suite(&f, version))
            {
                Ok(Choice::Suite(suite)) if remaining.contains(&suite) => {
                    ordered.push(suite);
                    remaining.retain(|s| *s != suite);
                }
                _ => break,
            }
        }
        ordered.extend(remaining);
        ordered
    }

    /// One suite per hello; a suite counts only if exactly its two bytes come back.
    async fn one_per_hello(
        &mut self,
        version: u16,
        suites: &[u16],
        list: &mut SuiteList,
    ) -> Vec<u16> {
        let hellos = suites.iter().map(|s| self.hello(version, vec![*s])).collect();
        let results = self.send_all(hellos, Until::ServerHello).await;
        let mut accepted = Vec::new();
        for (suite, result) in suites.iter().copied().zip(results) {
            match result.as_ref().map(|f| chosen_suite(f, version)) {
                Ok(Choice::Suite(returned)) if returned == suite => accepted.push(suite),
                Ok(Choice::Suite(returned)) => {
                    self.violation(
                        version,
                        &[suite],
                        returned,
                        "server hello names a suite that was not offered",
                    );
                }
                Ok(Choice::Rejected) => {}
                Ok(Choice::Undecided(reason)) => {
                    list.inconclusive.push(format!("0x{suite:04x}: {reason}"))
                }
                Err(error) => list.inconclusive.push(format!("0x{suite:04x}: {error}")),
            }
        }
        accepted
    }

    fn violation(&mut self, version: u16, offered: &[u16], returned: u16, finding: &str) {
        self.report.violations.push(Violation {
            version: version_name(version),
            finding: finding.to_string(),
            offered: offered.iter().take(16).map(|s| format!("0x{s:04x}")).collect(),
            offered_count: offered.len(),
            returned: format!("0x{returned:04x}"),
        });
    }

    /// Offers the accepted suites in both orders: the same choice means server order.
    async fn server_order(&mut self, version: u16, accepted: &[u16]) -> Option<bool> {
        if accepted.len() < 2 {
            return None;
        }
        let forward = accepted.to_vec();
        let mut backward = forward.clone();
        backward.reverse();
        let hellos = if version == TLS13 {
            // Shareless, as for the suites: the HelloRetryRequest names the choice.
            vec![self.tls13_hello(forward, true), self.tls13_hello(backward, true)]
        } else {
            vec![self.hello(version, forward), self.hello(version, backward)]
        };
        let results = self.send_all(hellos, Until::ServerHello).await;
        let choices: Vec<Option<u16>> = results
            .iter()
            .map(|r| match r.as_ref().map(|f| chosen_suite(f, version)) {
                Ok(Choice::Suite(suite)) => Some(suite),
                _ => None,
            })
            .collect();
        match (choices[0], choices[1]) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        }
    }

    /// TLS 1.3 suites, one per hello. The hellos carry no key share: the HelloRetryRequest
    /// that asks for one names the chosen suite too, and costs the server no key agreement and
    /// no signature. Should that shape find nothing, hellos with a key share decide.
    async fn tls13_suites(&mut self) {
        let (mut list, mut accepted) = self.tls13_suites_shaped(true).await;
        if accepted.is_empty() {
            (list, accepted) = self.tls13_suites_shaped(false).await;
        }
        list.server_order = self.server_order(TLS13, &accepted).await;
        list.accepted = accepted.iter().map(|id| describe_suite(*id)).collect();
        self.report.suites.insert(version_name(TLS13), list);
    }

    /// A TLS 1.3 hello without key share when `shareless`, so that a HelloRetryRequest answers.
    fn tls13_hello(&self, suites: Vec<u16>, shareless: bool) -> ClientHello {
        let mut hello = self.hello(TLS13, suites);
        if shareless {
            hello.key_shares = Vec::new();
        }
        hello
    }

    async fn tls13_suites_shaped(&mut self, shareless: bool) -> (SuiteList, Vec<u16>) {
        let hellos = TLS13_SUITES.iter().map(|s| self.tls13_hello(vec![*s], shareless)).collect();
        let results = self.send_all(hellos, Until::ServerHello).await;
        let mut list = SuiteList::default();
        let mut accepted = Vec::new();
        for (suite, result) in TLS13_SUITES.iter().copied().zip(results) {
            match result.as_ref().map(|f| chosen_suite(f, TLS13)) {
                Ok(Choice::Suite(returned)) if returned == suite => accepted.push(suite),
                Ok(Choice::Suite(returned)) => self.violation(
                    TLS13,
                    &[suite],
                    returned,
                    "server hello names a suite that was not offered",
                ),
                Ok(Choice::Rejected) => {}
                Ok(Choice::Undecided(reason)) => {
                    list.inconclusive.push(format!("0x{suite:04x}: {reason}"))
                }
                Err(error) => list.inconclusive.push(format!("0x{suite:04x}: {error}")),
            }
        }
        (list, accepted)
    }

    /// TLS 1.3 groups: each offered alone without a key share; a HelloRetryRequest for it (or
    /// a ServerHello with it) means accepted.
    async fn tls13_groups(&mut self) {
        let ids = group_ids();
        let hellos = ids
            .iter()
            .map(|g| {
                let mut hello = self.hello(TLS13, TLS13_SUITES.to_vec());
                hello.groups = vec![*g];
                hello.key_shares = Vec::new();
                hello
            })
            .collect();
        let results = self.send_all(hellos, Until::ServerHello).await;
        for (group, result) in ids.iter().copied().zip(results) {
            if let Ok(Flight { end: End::Hello(hello), .. }) = &result {
                if hello.version == TLS13 && hello.key_share_group() == Some(group) {
                    self.report.groups.tls1_3.push(group_name(group));
                    self.note_strength(group, 0);
                }
            }
        }
        // The protocol probe sent the same hello (every group, an x25519 share).
        if let Some(Flight { end: End::Hello(hello), .. }) =
            self.report.protocol_flights.get(&TLS13)
        {
            self.report.groups.tls1_3_negotiated = hello.key_share_group().map(group_name);
        }
    }

    /// ECDHE groups and the DHE prime size, at the newest ≤ TLS 1.2 version.
    async fn legacy_groups(&mut self, supported: &[u16]) {
        let Some(version) = supported.iter().copied().filter(|v| *v != TLS13).max() else {
            return;
        };
        let accepted = self.report.accepted_ids(version);
        let ecdhe: Vec<u16> = accepted.iter().copied().filter(|s| is_ecdhe(*s)).collect();
        if !ecdhe.is_empty() {
            let ec_groups: Vec<u16> = GROUPS.iter().map(|g| g.0).filter(|g| *g < 0x0100).collect();
            let hellos = ec_groups
                .iter()
                .map(|g| {
                    let mut hello = self.hello(version, ecdhe.clone());
                    hello.groups = vec![*g];
                    hello
                })
                .collect();
            let results = self.send_all(hellos, Until::HelloDone).await;
            for (group, result) in ec_groups.iter().copied().zip(results) {
                let params = result.ok().and_then(|f| f.key_exchange);
                if params.and_then(|p| key_exchange_params(&p, true)).map(|(g, _)| g) == Some(group)
                {
                    self.report.groups.ecdhe.push(group_name(group));
                    self.note_strength(group, 0);
                }
            }
        }
        let dhe: Vec<u16> = accepted.iter().copied().filter(|s| is_dhe(*s)).collect();
        if !dhe.is_empty() {
            let mut hello = self.hello(version, dhe);
            hello.groups = Vec::new();
            if let Ok(flight) = self.send_one(hello, Until::HelloDone).await {
                let bits = flight.key_exchange.and_then(|p| key_exchange_params(&p, false));
                if let Some((_, bits)) = bits {
                    self.report.groups.dh_bits = Some(bits);
                    self.note_strength(0, bits);
                }
            }
        }
    }

    fn note_strength(&mut self, group: u16, dh_bits: u32) {
        let strength = super::suites::group_strength(group).unwrap_or(dh_bits);
        let weakest = &mut self.report.groups.weakest_strength;
        *weakest = Some(weakest.map_or(strength, |w| w.min(strength)));
    }

    async fn weaknesses(&mut self, supported: &[u16]) {
        let legacy: Vec<u16> = supported.iter().copied().filter(|v| *v != TLS13).collect();
        self.fallback(supported).await;
        let Some(version) = legacy.iter().copied().max() else {
            let (status, reason) = if supported.is_empty() {
                ("inconclusive", "no tls protocol detected")
            } else {
                ("not_applicable", "no protocol before tls 1.3")
            };
            for slot in [
                &mut self.report.secure_renegotiation,
                &mut self.report.compression,
                &mut self.report.heartbleed,
            ] {
                *slot = Some(Feature::new(status, reason, None));
            }
            return;
        };
        let suites = self.report.accepted_ids(version);
        let suites = if suites.is_empty() { legacy_suites() } else { suites };
        let plain = self.hello(version, suites.clone());
        let mut unsignalled = ClientHello::new(version, suites.clone(), self.sni.clone());
        unsignalled.groups = group_ids();
        let mut compressed = plain.clone();
        compressed.compression = vec![1, 0];
        let mut heartbeat = plain.clone();
        heartbeat.heartbeat = true;
        let hellos = vec![unsignalled, compressed];
        let (results, heartbleed) = tokio::join!(
            self.fork().send_all_owned(hellos, Until::ServerHello),
            super::heartbleed::probe(&self.dialer, heartbeat),
        );
        let (results, part) = results;
        self.merge(part);
        let mut results = results.into_iter();
        let mut next = || results.next().and_then(Result::ok);
        let (unsignalled, compressed) = (next(), next());
        // The protocol probe of this version sent the plain hello already.
        let plain = self.report.protocol_flights.get(&version).cloned();
        self.report.secure_renegotiation = Some(renegotiation(plain.as_ref()));
        self.report.requires_renegotiation_signalling = match (&plain, &unsignalled) {
            (Some(p), Some(u)) => match (&p.end, &u.end) {
                (End::Hello(_), End::Alert(_)) => Some(true),
                (End::Hello(_), End::Hello(_)) => Some(false),
                _ => None,
            },
            _ => None,
        };
        self.report.compression = Some(compression(compressed.as_ref()));
        self.report.heartbleed = Some(heartbleed);
    }

    /// Client-initiated renegotiation, after every other probe: a server that refuses it may
    /// stall before its next read (OpenSSL's s_server -www sleeps a second, for every client),
    /// which must not hold up the other probes.
    async fn client_renegotiation(&mut self, supported: &[u16]) {
        let Some(version) = supported.iter().copied().filter(|v| *v != TLS13).max() else {
            let reason = "no protocol before tls 1.3";
            self.report.client_renegotiation = Some(Feature::new("not_applicable", reason, None));
            return;
        };
        let hello = self.hello(version, self.report.accepted_ids(version));
        let feature = super::renegotiation::probe(&self.dialer, hello, version).await;
        self.report.client_renegotiation = Some(feature);
    }

    /// `send_all` on an owned fork, so that it can run beside borrowing probes.
    async fn send_all_owned(
        mut self,
        hellos: Vec<ClientHello>,
        until: Until,
    ) -> (Vec<Result<Flight, NetError>>, ProbeReport) {
        let results = self.send_all(hellos, until).await;
        (results, self.report)
    }

    /// ROBOT with the RSA key-transport suites of the newest ≤ TLS 1.2 version.
    async fn robot(&mut self, supported: &[u16]) {
        let Some(version) = supported.iter().copied().filter(|v| *v != TLS13).max() else {
            let reason = "no protocol before tls 1.3".to_string();
            self.report.robot =
                Some(super::robot::Robot { status: "not_applicable", reason, rounds: Vec::new() });
            return;
        };
        let rsa: Vec<u16> =
            self.report.accepted_ids(version).into_iter().filter(|s| is_rsa_kx(*s)).collect();
        self.report.robot =
            Some(super::robot::probe(&self.dialer, self.sni.clone(), version, &rsa).await);
    }

    /// TLS_FALLBACK_SCSV: a hello for the second-newest version, carrying 0x5600 last.
    async fn fallback(&mut self, supported: &[u16]) {
        let undecided = self.report.inconclusive_versions();
        if supported.len() < 2 {
            let feature = match (supported.first(), undecided.is_empty()) {
                (Some(only), true) => Feature::new(
                    "not_applicable",
                    format!("single protocol: {}", version_name(*only)),
                    None,
                ),
                (None, true) => Feature::new("not_applicable", "no protocol supported", None),
                (_, false) => Feature::new(
                    "inconclusive",
                    format!("protocol support inconclusive: {}", undecided.join(", ")),
                    None,
                ),
            };
            self.report.fallback_scsv = Some(feature);
            return;
        }
        let lower = supported[supported.len() - 2];
        let mut suites = self.report.accepted_ids(lower);
        if suites.is_empty() {
            suites = legacy_suites();
        }
        let mut hello = self.hello(lower, suites);
        hello.suites.push(SCSV_FALLBACK);
        let feature = match self.send_one(hello, Until::ServerHello).await {
            Ok(flight) => match &flight.end {
                End::Alert(Alert { description: 86, .. }) => {
                    Feature::new("supported", "alert 86 (inappropriate_fallback)", Some(&flight))
                }
                End::Hello(hello) => Feature::new(
                    "not_supported",
                    format!("downgraded hello accepted with {}", version_name(hello.version)),
                    Some(&flight),
                ),
                _ => Feature::new("inconclusive", end_reason(&flight.end), Some(&flight)),
            },
            Err(error) => Feature::new("inconclusive", error.to_string(), None),
        };
        self.report.fallback_scsv = Some(feature);
    }
}

/// Suites split by key exchange (ECDHE, DHE, RSA, other) and by AEAD or not, each chunk in
/// ascending order; fewer accepted suites per chunk means fewer sequential round trips.
fn split_by_key_exchange(suites: Vec<u16>) -> Vec<Vec<u16>> {
    use tls_parser::{TlsCipherKx, TlsCipherMac, TlsCipherSuite};
    let mut chunks = vec![Vec::new(); 8];
    for suite in suites {
        let info = TlsCipherSuite::from_id(suite);
        let kx = match info.map(|s| s.kx) {
            Some(TlsCipherKx::Ecdhe) => 0,
            Some(TlsCipherKx::Dhe) => 1,
            Some(TlsCipherKx::Rsa) => 2,
            _ => 3,
        };
        let aead = usize::from(info.is_some_and(|s| s.mac == TlsCipherMac::Aead));
        chunks[kx * 2 + aead].push(suite);
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}

enum Choice {
    Suite(u16),
    Rejected,
    Undecided(String),
}

fn chosen_suite(flight: &Flight, version: u16) -> Choice {
    match &flight.end {
        End::Hello(hello) if hello.version == version => Choice::Suite(hello.suite),
        End::Hello(hello) => {
            Choice::Undecided(format!("server answered with {}", version_name(hello.version)))
        }
        End::Alert(_) => Choice::Rejected,
        other => Choice::Undecided(end_reason(other)),
    }
}

fn renegotiation(flight: Option<&Flight>) -> Feature {
    match flight.map(|f| (&f.end, f)) {
        Some((End::Hello(hello), f))
            if hello.extension(super::wire::EXT_RENEGOTIATION_INFO).is_some() =>
        {
            Feature::new("supported", "renegotiation_info in server hello", Some(f))
        }
        Some((End::Hello(_), f)) => {
            Feature::new("not_supported", "no renegotiation_info in server hello", Some(f))
        }
        Some((end, f)) => Feature::new("inconclusive", end_reason(end), Some(f)),
        None => Feature::new("inconclusive", "no connection", None),
    }
}

fn compression(flight: Option<&Flight>) -> Feature {
    match flight.map(|f| (&f.end, f)) {
        Some((End::Hello(hello), f)) if hello.compression != 0 => Feature::new(
            "supported",
            format!("server chose compression method {}", hello.compression),
            Some(f),
        ),
        Some((End::Hello(_), f)) => {
            Feature::new("not_supported", "server chose no compression", Some(f))
        }
        Some((End::Alert(_), f)) => {
            Feature::new("not_supported", "hello offering deflate rejected", Some(f))
        }
        Some((end, f)) => Feature::new("inconclusive", end_reason(end), Some(f)),
        None => Feature::new("inconclusive", "no connection", None),
    }
}

fn verdict(status: Status, reason: Option<String>, flight: &Flight) -> Verdict {
    Verdict {
        status,
        reason,
        reply_hex: hex::encode(&flight.head),
        warnings: flight.warnings.iter().map(alert_text).collect(),
    }
}

fn inconclusive(reason: &str, flight: Option<&Flight>) -> Verdict {
    Verdict {
        status: Status::Inconclusive,
        reason: Some(reason.to_string()),
        reply_hex: flight.map(|f| hex::encode(&f.head)).unwrap_or_default(),
        warnings: Vec::new(),
    }
}

/// The verdict of a flight that did not end in a ServerHello.
fn end_verdict(flight: &Flight) -> Verdict {
    match &flight.end {
        End::Alert(alert) => verdict(Status::NotSupported, Some(alert_text(alert)), flight),
        other => verdict(Status::Inconclusive, Some(end_reason(other)), flight),
    }
}

pub(crate) fn end_reason(end: &End) -> String {
    match end {
        End::Hello(_) => "server hello".to_string(),
        End::Alert(alert) => alert_text(alert),
        End::Closed => "closed without reply".to_string(),
        End::NotTls => "non-TLS response".to_string(),
        End::Malformed(reason) => format!("malformed reply: {reason}"),
        End::Timeout => "timeout".to_string(),
    }
}

/// `fatal alert 40 (handshake_failure)`.
pub(crate) fn alert_text(alert: &Alert) -> String {
    let level = match alert.level {
        1 => "warning",
        2 => "fatal",
        _ => "unknown-level",
    };
    format!("{level} alert {} ({})", alert.description, alert_name(alert.description))
}

/// The RFC name of an alert description.
fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        120 => "no_application_protocol",
        _ => "unknown",
    }
}

fn describe_warning(alert: &Alert, sni: Option<&str>) -> String {
    if alert.description == 112 {
        if let Some(name) = sni {
            return format!("server does not recognise SNI {name} (warning alert 112)");
        }
    }
    alert_text(alert)
}

fn describe_suite(id: u16) -> AcceptedSuite {
    AcceptedSuite {
        id: format!("0x{id:04x}"),
        name: suite_name(id),
        families: suite_families(id),
        bits: suite_bits(id),
    }
}

fn parse_hex(text: &str) -> Option<u16> {
    u16::from_str_radix(text.trim_start_matches("0x"), 16).ok()
}

/// A fresh, valid key share for `group`, if this build can make one.
pub(crate) fn key_share(group: u16) -> Option<(u16, Vec<u8>)> {
    use ring::agreement::{EphemeralPrivateKey, ECDH_P256, ECDH_P384, X25519};
    let algorithm = match group {
        0x001d => &X25519,
        0x0017 => &ECDH_P256,
        0x0018 => &ECDH_P384,
        _ => return None,
    };
    let rng = ring::rand::SystemRandom::new();
    let key = EphemeralPrivateKey::generate(algorithm, &rng).ok()?;
    let public = key.compute_public_key().ok()?;
    Some((group, public.as_ref().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_described_by_number_and_name() {
        assert_eq!(
            alert_text(&Alert { level: 2, description: 40 }),
            "fatal alert 40 (handshake_failure)"
        );
        let warning =
            describe_warning(&Alert { level: 1, description: 112 }, Some("other.example.test"));
        assert_eq!(warning, "server does not recognise SNI other.example.test (warning alert 112)");
    }

    #[test]
    fn key_shares_are_valid_points() {
        let (_, x25519) = key_share(0x001d).expect("x25519");
        assert_eq!(x25519.len(), 32);
        let (_, p384) = key_share(0x0018).expect("p384");
        assert_eq!((p384.len(), p384[0]), (97, 4));
        assert!(key_share(0x0100).is_none());
    }
}
