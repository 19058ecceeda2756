//! DANE for SMTP (RFC 7672): the TLSA records at `_25._tcp.MX` of each MX
//! host, asked through the validating resolver, with their DNSSEC status.

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use super::check::{Line, Status};
use super::txt::fqdn;
use crate::discover::dns::{QueryError, Resolver};

/// What DANE protects against.
pub const PROTECTS_AGAINST: &str = "STARTTLS stripping and false certificates between sending servers and your MX, without trusting any CA";

/// The DNSSEC status of one MX host's TLSA records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dnssec {
    /// Proved from the trust anchors: senders use the records.
    Secure,
    /// Not signed: senders ignore the records.
    Insecure,
    /// Signed but failing validation: senders defer mail.
    Bogus,
    /// No TLSA record.
    Absent,
    /// The query failed.
    Error,
}

/// The TLSA records of one MX host.
#[derive(Debug, Clone, Serialize)]
pub struct TlsaHost {
    pub mx: String,
    /// `_25._tcp.MX`.
    pub name: String,
    pub dnssec: Dnssec,
    /// `USAGE SELECTOR MATCHING DATA-HEX`.
    pub records: Vec<String>,
    pub error: Option<String>,
}

/// The DANE check.
#[derive(Debug, Clone, Serialize)]
pub struct DaneCheck {
    pub status: Status,
    pub hosts: Vec<TlsaHost>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// TLSA lookups for every host in `hosts`, through `validating`. When
/// validation fails, `plain` tells a bogus record from a missing one whose
/// absence could not be proved (reported as absent: no protection is
/// claimed either way).
pub async fn check(validating: &Resolver, plain: &Resolver, hosts: &[String]) -> DaneCheck {
    let mut out = Vec::new();
    for mx in hosts {
        let name = format!("_25._tcp.{mx}");
        let mut host = TlsaHost {
            mx: mx.clone(),
            name: name.clone(),
            dnssec: Dnssec::Absent,
            records: Vec::new(),
            error: None,
        };
        match validating.query(&fqdn(&name), RecordType::TLSA).await {
            Ok(answer) => {
                host.records = answer.records.iter().filter_map(tlsa_text).collect();
                host.dnssec = if answer.secure {
                    Dnssec::Secure
                } else if answer.proof.contains("Bogus") {
                    Dnssec::Bogus
                } else {
                    Dnssec::Insecure
                };
                if !answer.secure {
                    host.error = Some(format!("DNSSEC {}", answer.proof));
                }
            }
            Err(QueryError::NoRecords) => {}
            Err(QueryError::Dnssec(e)) => {
                let unproved = plain.query(&fqdn(&name), RecordType::TLSA).await;
                if !matches!(unproved, Err(QueryError::NoRecords)) {
                    host.dnssec = Dnssec::Bogus;
                }
                host.error = Some(e);
            }
            Err(e) => {
                host.dnssec = Dnssec::Error;
                host.error = Some(e.to_string());
            }
        }
        out.push(host);
    }
    let all = |d: Dnssec| !out.is_empty() && out.iter().all(|h| h.dnssec == d);
    let any = |d: Dnssec| out.iter().any(|h| h.dnssec == d);
    let (status, fix) = if all(Dnssec::Secure) {
        (Status::Ok, None)
    } else if any(Dnssec::Bogus) {
        (
            Status::Invalid,
            Some("fix the DNSSEC signatures of the TLSA records (senders that use DANE defer mail now)".to_string()),
        )
    } else if any(Dnssec::Error) {
        (Status::Error, None)
    } else if out.iter().all(|h| h.dnssec == Dnssec::Absent) {
        (
            Status::Missing,
            Some("sign the MX hosts' zone with DNSSEC and publish \"3 1 1 SHA256-OF-KEY\" TLSA records at _25._tcp.MX".to_string()),
        )
    } else {
        (
            Status::Weak,
            Some("publish DNSSEC-signed TLSA records for every MX host".to_string()),
        )
    };
    DaneCheck {
        status,
        hosts: out,
        protects_against: PROTECTS_AGAINST,
        fix,
    }
}

fn tlsa_text(record: &RData) -> Option<String> {
    let RData::TLSA(tlsa) = record else {
        return None;
    };
    let hex: String = tlsa.cert_data.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{} {} {} {hex}",
        u8::from(tlsa.cert_usage),
        u8::from(tlsa.selector),
        u8::from(tlsa.matching)
    ))
}

impl DaneCheck {
    /// Every MX host has DNSSEC-validated TLSA records.
    pub fn protects(&self) -> bool {
        self.status == Status::Ok
    }

    /// The human line.
    pub fn line(&self) -> Line {
        let text = if self.hosts.iter().all(|h| h.dnssec == Dnssec::Absent) {
            "no TLSA record for any MX".to_string()
        } else {
            self.hosts
                .iter()
                .map(|h| {
                    let state = match h.dnssec {
                        Dnssec::Secure => "DNSSEC-secure TLSA",
                        Dnssec::Insecure => "TLSA not DNSSEC-signed",
                        Dnssec::Bogus => "TLSA failing DNSSEC (bogus)",
                        Dnssec::Absent => "no TLSA",
                        Dnssec::Error => "lookup failed",
                    };
                    format!("{}: {state}", h.mx)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Line {
            status: self.status,
            check: "DANE",
            text,
            fix: self.fix.clone(),
        }
    }
}
