//! SMTP TLS Reporting (RFC 8460): the `_smtp._tls.DOMAIN` TXT record
//! `v=TLSRPTv1; rua=...`.

use serde::Serialize;

use super::check::{Line, Status};
use super::txt;
use crate::discover::dns::Resolver;

/// What TLS-RPT protects against.
pub const PROTECTS_AGAINST: &str =
    "failed or downgraded TLS deliveries to your MX going unnoticed (senders report them)";

/// The TLS-RPT check.
#[derive(Debug, Clone, Serialize)]
pub struct TlsRptCheck {
    pub status: Status,
    /// The `v=TLSRPTv1` records.
    pub records: Vec<String>,
    /// Where reports go (`mailto:` or `https:` URIs).
    pub rua: Vec<String>,
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// Checks `_smtp._tls.DOMAIN`.
pub async fn check(resolver: &Resolver, domain: &str) -> TlsRptCheck {
    let mut out = TlsRptCheck {
        status: Status::Missing,
        records: Vec::new(),
        rua: Vec::new(),
        error: None,
        protects_against: PROTECTS_AGAINST,
        fix: Some(format!(
            "publish \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\" at _smtp._tls.{domain}"
        )),
    };
    match txt::lookup(resolver, &format!("_smtp._tls.{domain}")).await {
        Ok(records) => {
            out.records = records
                .into_iter()
                .filter(|r| txt::has_version(r, "TLSRPTv1"))
                .collect()
        }
        Err(e) => {
            out.status = Status::Error;
            out.error = Some(e.to_string());
            out.fix = None;
            return out;
        }
    }
    let parsed = match out.records.as_slice() {
        [] => return out,
        [one] => txt::tags(one).and_then(|tags| {
            let rua = txt::tag(&tags, "rua").ok_or("the record has no rua")?;
            Ok(rua
                .split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>())
        }),
        many => Err(format!(
            "{} TLSRPTv1 records (there must be one)",
            many.len()
        )),
    };
    match parsed {
        Ok(rua) if !rua.is_empty() => {
            out.status = Status::Ok;
            out.rua = rua;
            out.fix = None;
        }
        Ok(_) => {
            out.status = Status::Invalid;
            out.error = Some("rua is empty".into());
        }
        Err(e) => {
            out.status = Status::Invalid;
            out.error = Some(e);
        }
    }
    out
}

impl TlsRptCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = match (&self.error, self.status) {
            (Some(e), _) => e.clone(),
            (None, Status::Ok) => format!("reports to {}", self.rua.join(", ")),
            _ => "no _smtp._tls TXT record".to_string(),
        };
        Line {
            status: self.status,
            check: "TLS-RPT",
            text,
            fix: self.fix.clone(),
        }
    }
}
