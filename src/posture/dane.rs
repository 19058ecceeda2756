//! DANE for SMTP (RFC 7672): the TLSA records at `_25._tcp.MX` of each MX
//! host, asked through the validating resolver, with their DNSSEC status.
//! They protect only when the MX answer itself is DNSSEC-secure (§2.2.1):
//! an attacker who can forge an unsigned MX sends mail to a host of his
//! own, TLSA records or not.

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

pub use super::check::Dnssec;
use super::check::{Line, Status};
use super::mx::MxCheck;
use super::txt::fqdn;
use crate::discover::dns::{QueryError, Resolver};

/// What DANE protects against.
pub const PROTECTS_AGAINST: &str = "STARTTLS stripping and false certificates between sending servers and your MX, without trusting any CA";

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
    /// Why DNSSEC-secure TLSA records still do not protect (the MX answer
    /// is not secure).
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// TLSA lookups for every MX host of `mx`, through `validating`. When
/// validation fails, `plain` tells a bogus record from a missing one whose
/// absence could not be proved (reported as absent: no protection is
/// claimed either way).
pub async fn check(validating: &Resolver, plain: &Resolver, mx: &MxCheck) -> DaneCheck {
    let mut out = Vec::new();
    for mx in &mx.hosts {
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
                host.dnssec = Dnssec::of(&answer);
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
    let (status, error, fix) = verdict(&out, mx.dnssec);
    DaneCheck {
        status,
        hosts: out,
        error,
        protects_against: PROTECTS_AGAINST,
        fix,
    }
}

/// The status of the TLSA records `hosts` when the MX answer has the
/// DNSSEC status `mx`: (status, why secure TLSA records do not count,
/// fix).
fn verdict(hosts: &[TlsaHost], mx: Dnssec) -> (Status, Option<String>, Option<String>) {
    let all = |d: Dnssec| !hosts.is_empty() && hosts.iter().all(|h| h.dnssec == d);
    let any = |d: Dnssec| hosts.iter().any(|h| h.dnssec == d);
    let fix = |text: &str| Some(text.to_string());
    if all(Dnssec::Secure) && mx == Dnssec::Secure {
        (Status::Ok, None, None)
    } else if all(Dnssec::Secure) {
        let error = format!(
            "the MX records are not DNSSEC-secure ({}), so senders ignore the TLSA records (RFC 7672 §2.2.1)",
            mx.label()
        );
        let status = if mx == Dnssec::Bogus {
            Status::Invalid
        } else {
            Status::Weak
        };
        let fix = fix("sign the domain's zone with DNSSEC so that its MX records validate");
        (status, Some(error), fix)
    } else if any(Dnssec::Bogus) {
        (
            Status::Invalid,
            None,
            fix("fix the DNSSEC signatures of the TLSA records (senders that use DANE defer mail now)"),
        )
    } else if any(Dnssec::Error) {
        (Status::Error, None, None)
    } else if hosts.iter().all(|h| h.dnssec == Dnssec::Absent) {
        (
            Status::Missing,
            None,
            fix("sign the MX hosts' zone with DNSSEC and publish \"3 1 1 SHA256-OF-KEY\" TLSA records at _25._tcp.MX"),
        )
    } else {
        (
            Status::Weak,
            None,
            fix("publish DNSSEC-signed TLSA records for every MX host"),
        )
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
    /// Every MX host has DNSSEC-validated TLSA records, and the MX
    /// answer is DNSSEC-secure.
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
        let text = match &self.error {
            Some(error) => format!("{text}; {error}"),
            None => text,
        };
        Line {
            status: self.status,
            check: "DANE",
            text,
            fix: self.fix.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure_host() -> TlsaHost {
        TlsaHost {
            mx: "mx.example.org".into(),
            name: "_25._tcp.mx.example.org".into(),
            dnssec: Dnssec::Secure,
            records: vec!["3 1 1 ab".into()],
            error: None,
        }
    }

    #[test]
    fn secure_tlsa_counts_only_under_a_secure_mx_answer() {
        let hosts = [secure_host()];
        assert_eq!(verdict(&hosts, Dnssec::Secure).0, Status::Ok);
        let (status, error, fix) = verdict(&hosts, Dnssec::Insecure);
        assert_eq!(status, Status::Weak);
        assert!(error.unwrap().contains("not DNSSEC-secure (insecure)"));
        assert!(fix.unwrap().contains("sign the domain's zone"));
        assert_eq!(verdict(&hosts, Dnssec::Bogus).0, Status::Invalid);
        assert_eq!(verdict(&hosts, Dnssec::Absent).0, Status::Weak);
    }
}
