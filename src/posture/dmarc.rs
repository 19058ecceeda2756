//! DMARC (RFC 7489): the `v=DMARC1` TXT record at `_dmarc.DOMAIN`, its
//! policy (`p`, `sp`), `pct` and report addresses (`rua`). A domain
//! without a record inherits the record of its organizational domain
//! (RFC 7489 §6.6.3), and then that record's `sp` applies. The
//! organizational domain is found without a public suffix list, by the
//! DNS tree walk of DMARCbis (draft-ietf-dmarc-dmarcbis §4.10): each
//! parent in turn, the first record found applies.

use serde::Serialize;

use super::check::{Line, Status};
use super::txt;
use crate::discover::dns::Resolver;

/// What DMARC protects against.
pub const PROTECTS_AGAINST: &str =
    "mail forged with your domain in the From header that readers see";

/// The DMARC check.
#[derive(Debug, Clone, Serialize)]
pub struct DmarcCheck {
    pub status: Status,
    /// The `v=DMARC1` records (more than one is an error).
    pub records: Vec<String>,
    /// `none`, `quarantine` or `reject`.
    pub p: Option<String>,
    /// The policy for subdomains, when it differs.
    pub sp: Option<String>,
    /// The parent whose record applies, when the domain has none.
    pub inherited_from: Option<String>,
    /// The policy receivers apply to the domain's mail: `p`, or for an
    /// inherited record its `sp` (else its `p`).
    pub policy: Option<String>,
    /// The share of failing mail the policy applies to (100 when absent).
    pub pct: Option<u8>,
    pub rua: Vec<String>,
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// (p, sp, pct, rua) of a record, or why it is malformed.
type Parsed = (String, Option<String>, u8, Vec<String>);

/// Parses a DMARC record.
pub fn parse(record: &str) -> Result<Parsed, String> {
    let tags = txt::tags(record)?;
    let policy = |name: &str| -> Result<Option<String>, String> {
        match txt::tag(&tags, name) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                p @ ("none" | "quarantine" | "reject") => Ok(Some(p.to_string())),
                _ => Err(format!("{name}={v} is not none, quarantine or reject")),
            },
        }
    };
    let p = policy("p")?.ok_or("the record has no p= policy")?;
    let sp = policy("sp")?;
    let pct = match txt::tag(&tags, "pct") {
        None => 100,
        Some(v) => v
            .parse::<u8>()
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| format!("pct={v} is not 0 to 100"))?,
    };
    let rua = txt::tag(&tags, "rua")
        .map(|v| {
            v.split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok((p, sp, pct, rua))
}

/// The names whose `_dmarc` records apply to `domain` when it has none,
/// nearest first: each parent down to two labels (a top-level domain is
/// not asked); a name of more than eight labels starts at its last seven.
pub fn parents(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let first = if labels.len() > 8 {
        labels.len() - 7
    } else {
        1
    };
    (first..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// The `v=DMARC1` records at `_dmarc.NAME`.
async fn records_at(resolver: &Resolver, name: &str) -> Result<Vec<String>, String> {
    let records = txt::lookup(resolver, &format!("_dmarc.{name}"))
        .await
        .map_err(|e| format!("_dmarc.{name}: {e}"))?;
    Ok(records
        .into_iter()
        .filter(|r| r.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
        .collect())
}

/// The records that apply to `domain` and, when inherited, the parent
/// they were found at.
async fn applicable(
    resolver: &Resolver,
    domain: &str,
) -> Result<(Vec<String>, Option<String>), String> {
    let own = records_at(resolver, domain).await?;
    if !own.is_empty() {
        return Ok((own, None));
    }
    for parent in parents(domain) {
        let records = records_at(resolver, &parent).await?;
        if !records.is_empty() {
            return Ok((records, Some(parent)));
        }
    }
    Ok((Vec::new(), None))
}

/// Checks `_dmarc.DOMAIN`, else the record of its organizational domain.
pub async fn check(resolver: &Resolver, domain: &str) -> DmarcCheck {
    let mut out = DmarcCheck {
        status: Status::Missing,
        records: Vec::new(),
        p: None,
        sp: None,
        inherited_from: None,
        policy: None,
        pct: None,
        rua: Vec::new(),
        error: None,
        protects_against: PROTECTS_AGAINST,
        fix: None,
    };
    let start = format!(
        "publish \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\" at _dmarc.{domain}, then move to p=quarantine or p=reject"
    );
    match applicable(resolver, domain).await {
        Ok((records, inherited_from)) => {
            (out.records, out.inherited_from) = (records, inherited_from)
        }
        Err(e) => {
            out.status = Status::Error;
            out.error = Some(e);
            return out;
        }
    }
    // Where the record was found, and so where a fix goes.
    let owner = out
        .inherited_from
        .clone()
        .unwrap_or_else(|| domain.to_string());
    let record = match out.records.as_slice() {
        [] => {
            out.fix = Some(start);
            return out;
        }
        [one] => one.clone(),
        many => {
            out.status = Status::Invalid;
            out.error = Some(format!(
                "{} DMARC records: receivers ignore them all",
                many.len()
            ));
            out.fix = Some(format!("keep one v=DMARC1 record at _dmarc.{owner}"));
            return out;
        }
    };
    let (p, sp, pct, rua) = match parse(&record) {
        Ok(parsed) => parsed,
        Err(e) => {
            out.status = Status::Invalid;
            out.error = Some(format!("malformed: {e}"));
            out.fix = Some(start);
            return out;
        }
    };
    let policy = match &out.inherited_from {
        Some(_) => sp.clone().unwrap_or_else(|| p.clone()),
        None => p.clone(),
    };
    (out.status, out.fix) = if policy == "none" && out.inherited_from.is_some() {
        (
            Status::Weak,
            Some(format!(
                "the policy inherited from _dmarc.{owner} only monitors {domain}: set sp=quarantine or sp=reject there, or publish a record at _dmarc.{domain}"
            )),
        )
    } else if policy == "none" {
        (
            Status::Weak,
            Some("p=none only monitors: once the reports show your own mail passing, use p=quarantine or p=reject".into()),
        )
    } else if pct < 100 {
        (
            Status::Weak,
            Some(format!(
                "pct={pct} applies the policy to part of the mail only: remove pct"
            )),
        )
    } else {
        (Status::Ok, None)
    };
    if out.status == Status::Ok && rua.is_empty() {
        out.fix = Some(format!(
            "add rua=mailto:dmarc@{owner} to learn who sends as you"
        ));
    }
    (out.p, out.sp, out.pct, out.rua) = (Some(p), sp, Some(pct), rua);
    out.policy = Some(policy);
    out
}

impl DmarcCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = match (&self.error, &self.p) {
            (Some(e), _) => e.clone(),
            (None, Some(p)) => {
                let mut text = format!("p={p}");
                if let Some(sp) = &self.sp {
                    text.push_str(&format!(" sp={sp}"));
                }
                text.push_str(&format!(" pct={}", self.pct.unwrap_or(100)));
                if self.rua.is_empty() {
                    text.push_str(", no reports");
                } else {
                    text.push_str(&format!(", reports to {}", self.rua.join(", ")));
                }
                if let (Some(parent), Some(policy)) = (&self.inherited_from, &self.policy) {
                    text.push_str(&format!("; inherited from {parent}, so {policy} applies"));
                }
                text
            }
            _ => "no v=DMARC1 record at _dmarc".to_string(),
        };
        Line {
            status: self.status,
            check: "DMARC",
            text,
            fix: self.fix.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let (p, sp, pct, rua) =
            parse("v=DMARC1; p=reject; sp=none; pct=50; rua=mailto:a@x").unwrap();
        assert_eq!(
            (p.as_str(), sp.as_deref(), pct),
            ("reject", Some("none"), 50)
        );
        assert_eq!(rua, ["mailto:a@x"]);
        assert!(parse("v=DMARC1; p=maybe").is_err());
        assert!(parse("v=DMARC1; rua=mailto:a@x").is_err());
        assert!(parse("v=DMARC1; p=none; pct=101").is_err());
    }

    #[test]
    fn parents_stop_above_the_top_level_domain() {
        assert_eq!(parents("a.b.example.org"), ["b.example.org", "example.org"]);
        assert!(parents("example.org").is_empty());
        assert!(parents("org").is_empty());
        assert_eq!(parents("1.2.3.4.5.6.7.8.9.org")[0], "4.5.6.7.8.9.org");
        assert_eq!(parents("1.2.3.4.5.6.7.8.9.org").len(), 6);
    }
}
