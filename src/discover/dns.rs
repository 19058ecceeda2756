//! DNS with hickory-resolver: the servers from `network.nameservers` (else
//! the system's resolv.conf), and for DANE a validating resolver whose
//! trust anchors come from `discovery.dnssec_trust_anchor` (else the IANA
//! root keys). A record counts as DNSSEC-validated only when hickory
//! proved it Secure from those anchors; the AD bit of an upstream
//! resolver is never trusted.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors};
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;

use crate::config::Network;
use crate::submit::Trace;
use crate::{Error, Result};

/// The marker error of a name that does not resolve.
#[derive(Debug)]
pub struct NoSuchHost(pub String);

impl std::fmt::Display for NoSuchHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} does not resolve", self.0)
    }
}

impl std::error::Error for NoSuchHost {}

/// A resolver built from the configuration.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    trace: Option<Trace>,
}

/// The records of one answer and whether DNSSEC proved them.
#[derive(Debug, Clone)]
pub struct Answer {
    pub records: Vec<RData>,
    /// Every record was proved Secure from the trust anchors.
    pub secure: bool,
    /// hickory's verdict, for messages (`Secure`, `Insecure`, `Bogus`, ...).
    pub proof: String,
}

/// Why a query gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// NXDOMAIN or no record of that type.
    NoRecords,
    /// DNSSEC validation failed (bogus or unprovable data).
    Dnssec(String),
    /// The servers did not answer in time.
    Timeout,
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::NoRecords => write!(f, "no such record"),
            QueryError::Dnssec(e) => write!(f, "DNSSEC validation failed: {e}"),
            QueryError::Timeout => write!(f, "the DNS servers did not answer in time"),
            QueryError::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// `address` or `address:port` (port 53 by default).
pub fn parse_nameserver(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    let ip: IpAddr = text.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, 53))
}

impl Resolver {
    /// A resolver asking `network.nameservers` (else the system's), which
    /// validates DNSSEC when `trust_anchor` is given: `Some(None)` means
    /// the IANA root keys, `Some(Some(path))` the DNSKEY records in `path`.
    pub fn new(
        network: &Network,
        trust_anchor: Option<Option<&Path>>,
        timeout_secs: u64,
    ) -> Result<Resolver> {
        let bad = |message: String| Error::Config {
            path: "[network] nameservers".into(),
            message,
        };
        let provider = TokioRuntimeProvider::default();
        let mut builder = if network.nameservers.is_empty() {
            TokioResolver::builder(provider)
                .map_err(|e| bad(format!("cannot read the system DNS configuration: {e}")))?
        } else {
            let mut servers = Vec::new();
            for text in &network.nameservers {
                let addr = parse_nameserver(text)
                    .ok_or_else(|| bad(format!("{text:?} is not an address or address:port")))?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            let mut builder = TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                provider,
            );
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = Duration::from_secs(timeout_secs.max(1));
        options.attempts = 2;
        options.cache_size = 64;
        if let Some(anchor) = trust_anchor {
            let anchors = match anchor {
                Some(path) => TrustAnchors::from_file(path).map_err(|e| Error::Config {
                    path: path.to_path_buf(),
                    message: format!("not a file of DNSKEY records: {e}"),
                })?,
                None => TrustAnchors::default(),
            };
            builder = builder.with_trust_anchor(Arc::new(anchors));
        }
        let inner = builder
            .build()
            .map_err(|e| bad(format!("cannot set up the resolver: {e}")))?;
        Ok(Resolver { inner, trace: None })
    }

    /// Reports every query and its outcome to `trace` (`-v`).
    pub fn traced(mut self, trace: Option<Trace>) -> Resolver {
        self.trace = trace;
        self
    }

    /// The records of `rtype` at `name`, with their DNSSEC status.
    pub async fn query(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> std::result::Result<Answer, QueryError> {
        let Some(trace) = &self.trace else {
            return self.lookup(name, rtype).await;
        };
        trace(&format!("> DNS {name} {rtype}"));
        let result = self.lookup(name, rtype).await;
        match &result {
            Ok(answer) => trace(&format!(
                "< {} record(s), DNSSEC {}",
                answer.records.len(),
                answer.proof
            )),
            Err(e) => trace(&format!("< {e}")),
        }
        result
    }

    async fn lookup(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> std::result::Result<Answer, QueryError> {
        let lookup = match self.inner.lookup(name, rtype).await {
            Ok(lookup) => lookup,
            Err(e) => return Err(classify(&e.to_string(), e.is_no_records_found())),
        };
        let answers: Vec<_> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .collect();
        if answers.is_empty() {
            return Err(QueryError::NoRecords);
        }
        let secure = answers.iter().all(|r| r.proof == Proof::Secure);
        let proof = answers
            .iter()
            .map(|r| format!("{:?}", r.proof))
            .find(|p| p != "Secure")
            .unwrap_or_else(|| "Secure".into());
        Ok(Answer {
            records: answers.iter().map(|r| r.data.clone()).collect(),
            secure,
            proof,
        })
    }
}

fn classify(text: &str, no_records: bool) -> QueryError {
    if no_records {
        QueryError::NoRecords
    } else if text.contains("DNSSEC") || text.contains("dnssec") || text.contains("proof") {
        QueryError::Dnssec(text.to_string())
    } else if text.contains("timed out") || text.contains("timeout") {
        QueryError::Timeout
    } else {
        QueryError::Failed(text.to_string())
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.inner.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            match resolver.lookup_ip(host.as_str()).await {
                Ok(ips) => {
                    let addrs: Vec<SocketAddr> =
                        ips.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
                    if addrs.is_empty() {
                        return Err(Box::new(NoSuchHost(host)) as Box<_>);
                    }
                    Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
                }
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                    Err(Box::new(NoSuchHost(host)) as Box<_>)
                }
                Err(e) => Err(Box::new(e) as Box<_>),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_parse() {
        assert_eq!(
            parse_nameserver("127.0.0.1:5353"),
            Some("127.0.0.1:5353".parse().unwrap())
        );
        assert_eq!(parse_nameserver("::1"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_nameserver("dns.example"), None);
    }
}
