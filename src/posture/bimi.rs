//! BIMI: whether `default._bimi.DOMAIN` publishes a `v=BIMI1` record (a
//! logo some mail clients show next to DMARC-authenticated mail).

use serde::Serialize;

use super::check::{Line, Status};
use super::txt;
use crate::discover::dns::Resolver;

/// The BIMI check.
#[derive(Debug, Clone, Serialize)]
pub struct BimiCheck {
    pub status: Status,
    /// The `v=BIMI1` records.
    pub records: Vec<String>,
    /// The logo URL (`l=`).
    pub logo: Option<String>,
    pub error: Option<String>,
}

/// Checks `default._bimi.DOMAIN`.
pub async fn check(resolver: &Resolver, domain: &str) -> BimiCheck {
    let mut out = BimiCheck {
        status: Status::Absent,
        records: Vec::new(),
        logo: None,
        error: None,
    };
    match txt::lookup(resolver, &format!("default._bimi.{domain}")).await {
        Ok(records) => {
            out.records = records
                .into_iter()
                .filter(|r| txt::has_version(r, "BIMI1"))
                .collect()
        }
        Err(e) => {
            out.status = Status::Error;
            out.error = Some(e.to_string());
            return out;
        }
    }
    if let [record] = out.records.as_slice() {
        out.status = Status::Ok;
        out.logo = txt::tags(record)
            .ok()
            .and_then(|tags| txt::tag(&tags, "l").map(str::to_string))
            .filter(|l| !l.is_empty());
    } else if out.records.len() > 1 {
        out.status = Status::Invalid;
        out.error = Some(format!("{} BIMI1 records", out.records.len()));
    }
    out
}

impl BimiCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = match (&self.error, &self.logo, self.status) {
            (Some(e), _, _) => e.clone(),
            (None, Some(logo), _) => format!("logo {logo}"),
            (None, None, Status::Ok) => "published, without a logo".to_string(),
            _ => "not published (optional)".to_string(),
        };
        Line {
            status: self.status,
            check: "BIMI",
            text,
            fix: None,
        }
    }
}
