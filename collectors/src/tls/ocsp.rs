//! What a stapled OCSP response says: its response status and, for a successful one, the
//! certificate status (good, revoked, unknown) with its update times.
//!
//! Owns walking the DER of RFC 6960's OCSPResponse down to the first SingleResponse with
//! asn1-rs (through x509-parser's der-parser). It checks no signature and no serial: the
//! response is reported as the server stapled it, for `cert` to show beside the chain.

use serde::Serialize;
use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer};

/// A stapled OCSP response, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Staple {
    /// `successful`, `malformed_request`, `internal_error`, `try_later`, `sig_required`,
    /// `unauthorized`, or `unreadable` when the bytes do not parse.
    pub(crate) response_status: String,
    /// `good`, `revoked` or `unknown` for a successful response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cert_status: Option<&'static str>,
    /// thisUpdate, as the GeneralizedTime text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) this_update: Option<String>,
    /// nextUpdate, as the GeneralizedTime text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_update: Option<String>,
}

/// Reads `der`; never fails (an unreadable response says so).
pub(crate) fn read(der: &[u8]) -> Staple {
    walk(der).unwrap_or(Staple {
        response_status: "unreadable".into(),
        cert_status: None,
        this_update: None,
        next_update: None,
    })
}

fn tlv(input: &[u8]) -> Option<(Any<'_>, &[u8])> {
    Any::from_der(input).ok().map(|(rest, any)| (any, rest))
}

// FIXME(ocsp-verify): the responder's signature and the response's CertID are not checked
// against the chain; the status is reported as stapled.
fn walk(der: &[u8]) -> Option<Staple> {
    let (response, _) = tlv(der)?;
    let (status, rest) = tlv(response.data)?;
    let response_status = match status.data.first()? {
        0 => "successful",
        1 => "malformed_request",
        2 => "internal_error",
        3 => "try_later",
        5 => "sig_required",
        6 => "unauthorized",
        _ => "unknown_status",
    }
    .to_string();
    let mut staple =
        Staple { response_status, cert_status: None, this_update: None, next_update: None };
    if status.data.first() != Some(&0) {
        return Some(staple);
    }
    let (bytes, _) = tlv(rest)?; // [0] EXPLICIT ResponseBytes
    let (bytes, _) = tlv(bytes.data)?;
    let (_kind, rest) = tlv(bytes.data)?; // id-pkix-ocsp-basic
    let (octets, _) = tlv(rest)?;
    let (basic, _) = tlv(octets.data)?;
    let (data, _) = tlv(basic.data)?; // tbsResponseData
    let mut items = data.data;
    let responses = loop {
        let (item, rest) = tlv(items)?;
        items = rest;
        // version [0], responderID [1] or [2], producedAt (GeneralizedTime), then responses.
        if item.header.class() == Class::Universal && item.header.tag().0 == 16 {
            break item;
        }
    };
    let (single, _) = tlv(responses.data)?;
    let (_cert_id, rest) = tlv(single.data)?;
    let (cert_status, rest) = tlv(rest)?;
    staple.cert_status = match (cert_status.header.class(), cert_status.header.tag().0) {
        (Class::ContextSpecific, 0) => Some("good"),
        (Class::ContextSpecific, 1) => Some("revoked"),
        (Class::ContextSpecific, 2) => Some("unknown"),
        _ => None,
    };
    let (this_update, rest) = tlv(rest)?;
    staple.this_update = Some(String::from_utf8_lossy(this_update.data).into_owned());
    if let Some((next, _)) = tlv(rest) {
        if next.header.class() == Class::ContextSpecific && next.header.tag().0 == 0 {
            let (time, _) = tlv(next.data)?;
            staple.next_update = Some(String::from_utf8_lossy(time.data).into_owned());
        }
    }
    Some(staple)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsuccessful_and_garbage_responses_are_named() {
        // OCSPResponse { responseStatus tryLater(3) }
        assert_eq!(read(&[0x30, 0x03, 0x0a, 0x01, 0x03]).response_status, "try_later");
        assert_eq!(read(b"not der").response_status, "unreadable");
    }
}
