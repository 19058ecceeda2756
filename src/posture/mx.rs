//! The MX records of a domain (RFC 5321 §5.1): where its inbound mail
//! goes, lowest preference first, and whether DNSSEC proved the answer
//! (DANE counts only for a secure MX RRset, RFC 7672 §2.2.1).

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use super::check::{Dnssec, Line, Status};
use super::txt::fqdn;
use crate::discover::dns::{QueryError, Resolver};

/// One MX record.
#[derive(Debug, Clone, Serialize)]
pub struct MxRecord {
    pub preference: u16,
    pub host: String,
}

/// The MX check.
#[derive(Debug, Clone, Serialize)]
pub struct MxCheck {
    pub status: Status,
    pub records: Vec<MxRecord>,
    /// The hosts senders deliver to: the MX hosts, or the domain itself
    /// when it has no MX record (the implicit MX).
    pub hosts: Vec<String>,
    /// The domain accepts no mail (a null MX, RFC 7505).
    pub null_mx: bool,
    /// Whether DNSSEC proved the MX answer (`absent`: no MX record).
    pub dnssec: Dnssec,
    /// Why DNSSEC did not prove the answer.
    pub error: Option<String>,
    pub fix: Option<String>,
}

/// The MX records of `domain`, asked through `validating` (and through
/// `plain` when validation fails, to show what is published). A timeout
/// or server failure is returned as the error: nothing else can be
/// checked then.
pub async fn check(
    validating: &Resolver,
    plain: &Resolver,
    domain: &str,
) -> Result<MxCheck, QueryError> {
    let name = fqdn(domain);
    let (answer, dnssec, error) = match validating.query(&name, RecordType::MX).await {
        Ok(answer) => {
            let dnssec = Dnssec::of(&answer);
            let error = (dnssec != Dnssec::Secure).then(|| format!("DNSSEC {}", answer.proof));
            (Some(answer), dnssec, error)
        }
        Err(QueryError::NoRecords) => (None, Dnssec::Absent, None),
        Err(QueryError::Timeout) => return Err(QueryError::Timeout),
        Err(failed) => match plain.query(&name, RecordType::MX).await {
            Ok(answer) => {
                let dnssec = match failed {
                    QueryError::Dnssec(_) => Dnssec::Bogus,
                    _ => Dnssec::Error,
                };
                (Some(answer), dnssec, Some(failed.to_string()))
            }
            Err(QueryError::NoRecords) => (None, Dnssec::Absent, Some(failed.to_string())),
            Err(e) => return Err(e),
        },
    };
    let mut records = answer
        .map(|answer| {
            answer
                .records
                .iter()
                .filter_map(|r| match r {
                    RData::MX(mx) => Some(MxRecord {
                        preference: mx.preference,
                        host: host_name(&mx.exchange.to_ascii()),
                    }),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    records.sort_by(|a, b| (a.preference, &a.host).cmp(&(b.preference, &b.host)));
    let null_mx = records.len() == 1 && records[0].host.is_empty();
    let hosts = if null_mx {
        Vec::new()
    } else if records.is_empty() {
        vec![domain.to_string()]
    } else {
        records.iter().map(|r| r.host.clone()).collect()
    };
    let (status, fix) = if dnssec == Dnssec::Bogus {
        (
            Status::Invalid,
            Some(format!(
                "fix the DNSSEC signatures of {domain}'s zone: senders that validate DNSSEC cannot see these MX records and defer mail"
            )),
        )
    } else if records.is_empty() {
        (
            Status::Missing,
            Some(format!(
                "publish an MX record for {domain} naming the host that receives its mail"
            )),
        )
    } else {
        (Status::Ok, None)
    };
    Ok(MxCheck {
        status,
        records,
        hosts,
        null_mx,
        dnssec,
        error,
        fix,
    })
}

/// A host name lowercased and without its final dot.
pub fn host_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl MxCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = if self.null_mx {
            "null MX: the domain accepts no mail".to_string()
        } else if self.records.is_empty() {
            format!(
                "no MX record; senders try {} itself",
                self.hosts
                    .first()
                    .map(String::as_str)
                    .unwrap_or("the domain")
            )
        } else {
            let hosts = self
                .records
                .iter()
                .map(|r| format!("{} {}", r.preference, r.host))
                .collect::<Vec<_>>()
                .join(", ");
            let dnssec = match self.dnssec {
                Dnssec::Secure => "DNSSEC-secure",
                Dnssec::Insecure => "not DNSSEC-signed",
                Dnssec::Bogus => "failing DNSSEC (bogus)",
                Dnssec::Absent | Dnssec::Error => "DNSSEC status unknown",
            };
            format!("{hosts} ({dnssec})")
        };
        Line {
            status: self.status,
            check: "MX",
            text,
            fix: self.fix.clone(),
        }
    }
}
