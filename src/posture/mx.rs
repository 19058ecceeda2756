//! The MX records of a domain (RFC 5321 §5.1): where its inbound mail
//! goes, lowest preference first.

use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use super::check::{Line, Status};
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
    pub error: Option<String>,
    pub fix: Option<String>,
}

/// The MX records of `domain`. A timeout or server failure is returned as
/// the error: nothing else can be checked then.
pub async fn check(resolver: &Resolver, domain: &str) -> Result<MxCheck, QueryError> {
    let mut records = match resolver.query(&fqdn(domain), RecordType::MX).await {
        Ok(answer) => answer
            .records
            .iter()
            .filter_map(|r| match r {
                RData::MX(mx) => Some(MxRecord {
                    preference: mx.preference,
                    host: host_name(&mx.exchange.to_ascii()),
                }),
                _ => None,
            })
            .collect::<Vec<_>>(),
        Err(QueryError::NoRecords) => Vec::new(),
        Err(e) => return Err(e),
    };
    records.sort_by(|a, b| (a.preference, &a.host).cmp(&(b.preference, &b.host)));
    let null_mx = records.len() == 1 && records[0].host.is_empty();
    let (status, hosts, fix) = if null_mx {
        (Status::Ok, Vec::new(), None)
    } else if records.is_empty() {
        (
            Status::Missing,
            vec![domain.to_string()],
            Some(format!(
                "publish an MX record for {domain} naming the host that receives its mail"
            )),
        )
    } else {
        (
            Status::Ok,
            records.iter().map(|r| r.host.clone()).collect(),
            None,
        )
    };
    Ok(MxCheck {
        status,
        records,
        hosts,
        null_mx,
        error: None,
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
            self.records
                .iter()
                .map(|r| format!("{} {}", r.preference, r.host))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Line {
            status: self.status,
            check: "MX",
            text,
            fix: self.fix.clone(),
        }
    }
}
