//! SPF (RFC 7208): the `v=spf1` TXT record at the domain and the
//! qualifier of its `all` mechanism.

use serde::Serialize;

use super::check::{Line, Status};
use super::txt;
use crate::discover::dns::Resolver;

/// What SPF protects against.
pub const PROTECTS_AGAINST: &str =
    "other servers sending mail with your domain in the envelope sender (bounce address)";

/// The SPF check.
#[derive(Debug, Clone, Serialize)]
pub struct SpfCheck {
    pub status: Status,
    /// The `v=spf1` records (more than one is an error).
    pub records: Vec<String>,
    /// `-all`, `~all`, `?all`, `+all`, `redirect` or `missing`; absent
    /// when there is not exactly one record.
    pub all: Option<String>,
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// Whether `record` is an SPF record.
fn is_spf(record: &str) -> bool {
    let lower = record.trim_start().to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// The `all` qualifier of `record` (`-all`, ...), `redirect` when a
/// redirect modifier decides instead, else `missing`.
pub fn all_qualifier(record: &str) -> &'static str {
    let mut redirect = false;
    for term in record.split_whitespace().skip(1) {
        match term.to_ascii_lowercase().as_str() {
            "all" | "+all" => return "+all",
            "-all" => return "-all",
            "~all" => return "~all",
            "?all" => return "?all",
            t if t.starts_with("redirect=") => redirect = true,
            _ => {}
        }
    }
    if redirect {
        "redirect"
    } else {
        "missing"
    }
}

/// Checks the SPF record of `domain`.
pub async fn check(resolver: &Resolver, domain: &str) -> SpfCheck {
    let mut out = SpfCheck {
        status: Status::Missing,
        records: Vec::new(),
        all: None,
        error: None,
        protects_against: PROTECTS_AGAINST,
        fix: None,
    };
    match txt::lookup(resolver, domain).await {
        Ok(records) => out.records = records.into_iter().filter(|r| is_spf(r)).collect(),
        Err(e) => {
            out.status = Status::Error;
            out.error = Some(e.to_string());
            return out;
        }
    }
    let record = match out.records.as_slice() {
        [] => {
            out.fix = Some(format!(
                "publish a TXT record at {domain} like \"v=spf1 mx -all\" listing every server that sends its mail"
            ));
            return out;
        }
        [one] => one.clone(),
        many => {
            out.status = Status::Invalid;
            out.error = Some(format!(
                "{} SPF records: receivers treat this as a permanent error (RFC 7208 §4.5)",
                many.len()
            ));
            out.fix = Some("merge them into one v=spf1 record".into());
            return out;
        }
    };
    let all = all_qualifier(&record);
    (out.status, out.fix) = match all {
        "-all" | "redirect" => (Status::Ok, None),
        "~all" => (
            Status::Weak,
            Some("once every sending server is listed, end the record with -all".into()),
        ),
        "+all" => (
            Status::Weak,
            Some("+all lets every server on the internet pass: end the record with -all".into()),
        ),
        _ => (
            Status::Weak,
            Some("end the record with -all so that other servers fail".into()),
        ),
    };
    out.all = Some(all.to_string());
    out
}

impl SpfCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = match (&self.error, self.records.as_slice(), &self.all) {
            (Some(e), _, _) => e.clone(),
            (None, [record], Some(all)) => format!("{all}: {record}"),
            _ => "no v=spf1 TXT record".to_string(),
        };
        Line {
            status: self.status,
            check: "SPF",
            text,
            fix: self.fix.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers() {
        assert_eq!(all_qualifier("v=spf1 mx -all"), "-all");
        assert_eq!(all_qualifier("v=spf1 mx ~ALL"), "~all");
        assert_eq!(all_qualifier("v=spf1 all"), "+all");
        assert_eq!(
            all_qualifier("v=spf1 redirect=_spf.example.net"),
            "redirect"
        );
        assert_eq!(all_qualifier("v=spf1 mx"), "missing");
        assert!(is_spf("v=spf1") && !is_spf("v=spf10 mx"));
    }
}
