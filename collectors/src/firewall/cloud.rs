//! The Hetzner Cloud Firewall in front of the host: fetched from the API, reduced to what it
//! lets in, and intersected with the host's own exposure.
//!
//! Owns the API calls (`GET /firewalls`, `GET /servers/{id}`, bearer token from a credential
//! file, a timeout on each), the meaning of the answers (a firewall protects the server only
//! when the server lists it as `applied`; an applied firewall denies every inbound packet its
//! rules do not allow; several applied firewalls allow the union of their rules; a firewall
//! attached to nothing protects nothing), and the intersection with host exposure. It never
//! logs or reports the token. It does not evaluate host rules (see `eval`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::model::{parse_prefix, Family, Proto, Ranges, MAX_PORT};
use crate::Context;

/// The public API; tests point `api_url` at a local replay server instead.
pub const DEFAULT_API_URL: &str = "https://api.hetzner.cloud/v1";

/// The most pages of firewalls read.
const MAX_PAGES: u32 = 20;

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct CloudSettings {
    /// Base URL without a trailing slash.
    pub api_url: String,
    /// File holding the API token (read on every run, never logged).
    pub token_file: String,
    /// The server this host is.
    pub server_id: u64,
}

/// One inbound allow rule of an applied firewall, for TCP or UDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudRule {
    /// TCP or UDP.
    pub proto: Proto,
    /// Allowed destination ports.
    pub ports: Ranges,
    /// Allowed IPv4 sources.
    pub v4: Ranges,
    /// Allowed IPv6 sources.
    pub v6: Ranges,
}

/// The cloud layer as it applies to the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudLayer {
    /// Names of firewalls applied to the server.
    pub applied: Vec<String>,
    /// Names of firewalls listed for the server but not (yet) applied.
    pub pending: Vec<String>,
    /// Names of firewalls attached to nothing at all.
    pub defined_not_applied: Vec<String>,
    /// Inbound TCP/UDP allow rules of the applied firewalls.
    pub rules: Vec<CloudRule>,
}

impl CloudLayer {
    /// Whether the layer filters inbound traffic at all.
    pub fn filters(&self) -> bool {
        !self.applied.is_empty()
    }

    /// What the layer allows for `family`/`proto`: (ports, sources) pairs.
    pub fn allowed(&self, family: Family, proto: Proto) -> Vec<(Ranges, Ranges)> {
        self.rules
            .iter()
            .filter(|rule| rule.proto == proto)
            .map(|rule| {
                let sources = if family == Family::Ipv4 { &rule.v4 } else { &rule.v6 };
                (rule.ports.clone(), sources.clone())
            })
            .filter(|(_, sources)| !sources.is_empty())
            .collect()
    }
}

/// Fetches and interprets the firewalls for the configured server.
pub async fn fetch(
    settings: &CloudSettings,
    ctx: &Context,
    timeout: Duration,
) -> Result<CloudLayer, String> {
    let token = tokio::fs::read_to_string(&settings.token_file)
        .await
        .map_err(|e| format!("cannot read token file {}: {e}", settings.token_file))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!("token file {} is empty", settings.token_file));
    }
    let mut builder =
        reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
    if settings.api_url.starts_with("http://") {
        // Plain http is only allowed to loopback (validated); never through a proxy.
        builder = builder.no_proxy();
    }
    let client = builder.build().map_err(|e| format!("cannot build http client: {e}"))?;
    let mut firewalls = Vec::new();
    for page in 1..=MAX_PAGES {
        let url = format!("{}/firewalls?page={page}&per_page=50", settings.api_url);
        let body = get(&client, &url, token, ctx).await?;
        firewalls
            .extend(body.get("firewalls").and_then(Value::as_array).cloned().unwrap_or_default());
        let next = body.pointer("/meta/pagination/next_page").and_then(Value::as_u64);
        if next.is_none() {
            break;
        }
    }
    let url = format!("{}/servers/{}", settings.api_url, settings.server_id);
    let server = get(&client, &url, token, ctx).await?;
    interpret(&firewalls, &server, settings.server_id)
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    ctx: &Context,
) -> Result<Value, String> {
    let request = client.get(url).bearer_auth(token).send();
    let response = tokio::select! {
        _ = ctx.cancel.cancelled() => return Err("cancelled".to_string()),
        response = request => response.map_err(|e| format!("get {url}: {}", without_url(&e)))?,
    };
    let status = response.status();
    if !status.is_success() {
        return Err(format!("get {url}: http status {}", status.as_u16()));
    }
    let cap = ctx.limits.max_read_bytes;
    if response.content_length().is_some_and(|length| length > cap) {
        return Err(format!("get {url}: answer exceeds the byte budget of {cap}"));
    }
    let body = response.bytes().await.map_err(|e| format!("get {url}: {}", without_url(&e)))?;
    if body.len() as u64 > cap {
        return Err(format!("get {url}: answer exceeds the byte budget of {cap}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("get {url}: malformed json: {e}"))
}

/// The error and its causes on one line, without the URL (already in the message).
fn without_url(error: &reqwest::Error) -> String {
    let mut parts = vec![error.without_url_ref()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(url) => text.replace(&format!(" for url ({})", url.as_str()), ""),
            None => text,
        }
    }
}

/// Interprets `GET /firewalls` entries and `GET /servers/{id}`.
pub fn interpret(
    firewalls: &[Value],
    server: &Value,
    server_id: u64,
) -> Result<CloudLayer, String> {
    let listed = server
        .pointer("/server/public_net/firewalls")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("server {server_id}: no public_net.firewalls in the answer"))?;
    let status_of = |id: u64| {
        listed
            .iter()
            .find(|f| f.get("id").and_then(Value::as_u64) == Some(id))
            .map(|f| f.get("status").and_then(Value::as_str).unwrap_or("").to_string())
    };
    let mut layer = CloudLayer::default();
    for firewall in firewalls {
        let id = firewall.get("id").and_then(Value::as_u64).unwrap_or(0);
        let name = firewall.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let attached =
            firewall.get("applied_to").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
        if !attached {
            layer.defined_not_applied.push(name.clone());
        }
        match status_of(id).as_deref() {
            Some("applied") => {
                layer.applied.push(name);
                layer.rules.extend(inbound_rules(firewall));
            }
            Some(_) => layer.pending.push(name),
            None => {}
        }
    }
    Ok(layer)
}

fn inbound_rules(firewall: &Value) -> Vec<CloudRule> {
    let rules = firewall.get("rules").and_then(Value::as_array).cloned().unwrap_or_default();
    rules
        .iter()
        .filter(|rule| rule.get("direction").and_then(Value::as_str) == Some("in"))
        .filter_map(|rule| {
            let proto = match rule.get("protocol").and_then(Value::as_str)? {
                "tcp" => Proto::Tcp,
                "udp" => Proto::Udp,
                _ => return None,
            };
            let ports = match rule.get("port").and_then(Value::as_str) {
                None | Some("any") => Ranges::full(MAX_PORT),
                Some(text) => super::xtables::port_list(text)?,
            };
            let (mut v4, mut v6) = (Ranges::empty(), Ranges::empty());
            let sources =
                rule.get("source_ips").and_then(Value::as_array).cloned().unwrap_or_default();
            for source in sources.iter().filter_map(Value::as_str) {
                match parse_prefix(source) {
                    Some((Family::Ipv4, set)) => v4 = v4.union(&set),
                    Some((Family::Ipv6, set)) => v6 = v6.union(&set),
                    None => {}
                }
            }
            Some(CloudRule { proto, ports, v4, v6 })
        })
        .collect()
}

/// Names as a sorted, deduplicated list.
pub fn names(list: &[String]) -> Vec<String> {
    list.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attached_firewall_without_inbound_rules_blocks_everything() {
        let firewalls = json!([{"id": 9101, "name": "lockdown", "rules": [],
            "applied_to": [{"type": "server", "server": {"id": 4242}}]}]);
        let applied = json!([{"id": 9101, "status": "applied"}]);
        let server = json!({"server": {"id": 4242, "public_net": {"firewalls": applied}}});
        let layer = interpret(firewalls.as_array().expect("array"), &server, 4242).expect("valid");
        assert!(layer.filters());
        assert!(layer.allowed(Family::Ipv4, Proto::Tcp).is_empty());
        assert!(layer.allowed(Family::Ipv6, Proto::Udp).is_empty());
    }

    #[test]
    fn firewall_attached_to_nothing_protects_nothing() {
        let firewalls = json!([{"id": 9102, "name": "web", "applied_to": [], "rules": [
            {"direction": "in", "protocol": "tcp", "port": "1000-2000",
             "source_ips": ["198.51.100.7/32", "::/0"]}]}]);
        let server = json!({"server": {"id": 4242, "public_net": {"firewalls": []}}});
        let layer = interpret(firewalls.as_array().expect("array"), &server, 4242).expect("valid");
        assert!(!layer.filters());
        assert_eq!(layer.defined_not_applied, ["web"]);
        let rules = inbound_rules(&firewalls[0]);
        assert_eq!(rules[0].ports.spans(), [(1000, 2000)]);
        assert_eq!(Family::Ipv4.prefixes_text(&rules[0].v4, 4), ["198.51.100.7/32"]);
        assert!(rules[0].v6.is_full(u128::MAX));
    }
}
