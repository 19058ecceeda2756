//! MTA-STS (RFC 8461): the `_mta-sts.DOMAIN` TXT record, then the policy
//! at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, fetched over
//! verified HTTPS without following redirects and accepted only as
//! `text/plain`; and whether its `mx` patterns cover every MX host. A
//! policy fetched once stands for its `max_age` (see [`super::sts_cache`]).

use serde::{Deserialize, Serialize};
use url::Url;

use super::check::{Line, Status};
use super::sts_cache::{rfc3339, Cache, Entry};
use super::txt;
use crate::discover::dns::Resolver;
use crate::discover::http::Http;

/// What MTA-STS protects against.
pub const PROTECTS_AGAINST: &str = "an attacker on the path between sending servers and your MX stripping STARTTLS or presenting a false certificate";

/// Largest `max_age` RFC 8461 §3.2 allows (a year).
const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A policy's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Senders refuse to deliver without valid TLS to a listed MX.
    Enforce,
    /// Senders deliver anyway and only report failures.
    Testing,
    /// The policy is withdrawn.
    None,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub version: String,
    pub mode: Mode,
    /// The `mx` patterns (`mx.example.org`, `*.example.org`).
    pub mx: Vec<String>,
    /// Seconds senders keep the policy.
    pub max_age: u64,
}

/// Whether one MX host is covered by the policy's patterns.
#[derive(Debug, Clone, Serialize)]
pub struct MxMatch {
    pub host: String,
    pub matches: bool,
}

/// Where a cached policy came from, and why it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Cached {
    /// The TXT record's id when the policy was fetched.
    pub id: String,
    /// When it was fetched and when it expires (RFC 3339).
    pub fetched_at: String,
    pub expires_at: String,
    /// `the id is unchanged`, or `no live policy (WHY)`: the TXT lookup
    /// or the fetch failed, so the cached policy applies (RFC 8461 §3.3).
    pub reason: String,
}

impl Cached {
    fn of(entry: &Entry, reason: String) -> Cached {
        Cached {
            id: entry.id.clone(),
            fetched_at: rfc3339(entry.fetched_at),
            expires_at: rfc3339(entry.expires_at()),
            reason,
        }
    }
}

/// The MTA-STS check.
#[derive(Debug, Clone, Serialize)]
pub struct MtaStsCheck {
    pub status: Status,
    /// The `v=STSv1` TXT records at `_mta-sts.DOMAIN`.
    pub records: Vec<String>,
    pub id: Option<String>,
    pub policy_url: String,
    pub policy: Option<Policy>,
    pub mx_matches: Vec<MxMatch>,
    /// Set when `policy` came from the cache rather than a fetch now.
    pub cached: Option<Cached>,
    /// Why the record or the policy is invalid, or what failed.
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// The `id` of the STSv1 record among `records`; `None` when there is none.
pub fn parse_record(records: &[String]) -> Result<Option<String>, String> {
    let sts: Vec<&String> = records
        .iter()
        .filter(|r| txt::has_version(r, "STSv1"))
        .collect();
    let record = match sts.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => return Err(format!("{} STSv1 records (there must be one)", sts.len())),
    };
    let tags = txt::tags(record)?;
    let id = txt::tag(&tags, "id").ok_or("the record has no id")?;
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("id {id:?} is not 1 to 32 letters and digits"));
    }
    Ok(Some(id.to_string()))
}

/// Parses a policy file (RFC 8461 §3.2).
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {line:?} is not key: value"))?;
        let value = value.trim();
        match key.trim() {
            "version" if version.is_none() => version = Some(value.to_string()),
            "mode" if mode.is_none() => {
                mode = Some(match value {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    other => return Err(format!("mode {other:?} is not enforce, testing or none")),
                })
            }
            "max_age" if max_age.is_none() => {
                let age = value
                    .parse::<u64>()
                    .ok()
                    .filter(|age| *age <= MAX_AGE_LIMIT && value.len() <= 10)
                    .ok_or_else(|| format!("max_age {value:?} is not 0 to {MAX_AGE_LIMIT}"))?;
                max_age = Some(age);
            }
            "mx" => mx.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let version = version.ok_or("no version field")?;
    if version != "STSv1" {
        return Err(format!("version {version:?} is not STSv1"));
    }
    let mode = mode.ok_or("no mode field")?;
    let max_age = max_age.ok_or("no max_age field")?;
    if mx.is_empty() && mode != Mode::None {
        return Err("no mx field".into());
    }
    Ok(Policy {
        version,
        mode,
        mx,
        max_age,
    })
}

/// Whether `host` matches `pattern`; `*.` covers exactly one label.
pub fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == host,
    }
}

/// The media type of a Content-Type header, lowercased.
fn media_type(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Why no live policy could be had: what the check reports when no
/// cached policy stands in.
struct Failure {
    status: Status,
    error: Option<String>,
    fix: Option<String>,
}

impl Failure {
    fn new(status: Status, error: String, fix: Option<String>) -> Failure {
        Failure {
            status,
            error: Some(error),
            fix,
        }
    }
}

/// Checks MTA-STS for `domain`, whose MX hosts are `hosts`, with the
/// policies in `cache` (see [`super::sts_cache`]) as of `now` (seconds
/// since the epoch).
pub async fn check(
    resolver: &Resolver,
    http: &Http,
    domain: &str,
    hosts: &[String],
    cache: &mut Cache,
    now: u64,
) -> MtaStsCheck {
    let policy_url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let mut out = MtaStsCheck {
        status: Status::Missing,
        records: Vec::new(),
        id: None,
        policy_url: policy_url.clone(),
        policy: None,
        mx_matches: Vec::new(),
        cached: None,
        error: None,
        protects_against: PROTECTS_AGAINST,
        fix: None,
    };
    let live = live(resolver, http, domain, &mut out, cache, now).await;
    let (policy, cached) = match live {
        Ok(found) => found,
        Err(failure) => match cache.fresh(domain, now) {
            Some(entry) => {
                let why = failure
                    .error
                    .unwrap_or_else(|| "no _mta-sts TXT record".to_string());
                (
                    entry.policy.clone(),
                    Some(Cached::of(entry, format!("no live policy ({why})"))),
                )
            }
            None => {
                out.status = failure.status;
                out.error = failure.error;
                out.fix = failure.fix;
                return out;
            }
        },
    };
    out.mx_matches = hosts
        .iter()
        .map(|host| MxMatch {
            host: host.clone(),
            matches: policy.mx.iter().any(|p| matches(p, host)),
        })
        .collect();
    let uncovered: Vec<&str> = out
        .mx_matches
        .iter()
        .filter(|m| !m.matches)
        .map(|m| m.host.as_str())
        .collect();
    (out.status, out.fix) = match policy.mode {
        Mode::Enforce if uncovered.is_empty() => (Status::Ok, None),
        Mode::Enforce => (
            Status::Weak,
            Some(format!(
                "add mx lines covering {} (senders refuse to deliver there now)",
                uncovered.join(", ")
            )),
        ),
        Mode::Testing => (
            Status::Weak,
            Some("once TLS-RPT reports show no failures, change the policy to mode: enforce (and its id)".into()),
        ),
        Mode::None => (Status::Weak, Some(fix_publish(domain))),
    };
    out.policy = Some(policy);
    out.cached = cached;
    out
}

fn fix_publish(domain: &str) -> String {
    format!(
        "publish \"v=STSv1; id=YYYYMMDD01\" at _mta-sts.{domain} and a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt with mode: enforce and an mx line per MX host"
    )
}

/// The live policy of `domain`: the TXT record (into `out`), then the
/// cached policy if its id is unchanged, else the policy fetched over
/// HTTPS (and cached).
async fn live(
    resolver: &Resolver,
    http: &Http,
    domain: &str,
    out: &mut MtaStsCheck,
    cache: &mut Cache,
    now: u64,
) -> Result<(Policy, Option<Cached>), Failure> {
    let records = txt::lookup(resolver, &format!("_mta-sts.{domain}"))
        .await
        .map_err(|e| Failure::new(Status::Error, e.to_string(), None))?;
    out.records = records
        .into_iter()
        .filter(|r| txt::has_version(r, "STSv1"))
        .collect();
    let id = match parse_record(&out.records) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Err(Failure {
                status: Status::Missing,
                error: None,
                fix: Some(fix_publish(domain)),
            })
        }
        Err(e) => {
            let fix = format!("publish one record \"v=STSv1; id=YYYYMMDD01\" at _mta-sts.{domain}");
            return Err(Failure::new(Status::Invalid, e, Some(fix)));
        }
    };
    out.id = Some(id.clone());
    if let Some(entry) = cache.fresh(domain, now).filter(|e| e.id == id) {
        let cached = Cached::of(entry, "the id is unchanged".to_string());
        return Ok((entry.policy.clone(), Some(cached)));
    }
    let policy = fetch(http, &out.policy_url, domain).await?;
    cache.put(domain, &id, &policy, now);
    Ok((policy, None))
}

/// Fetches and parses the policy at `policy_url`.
async fn fetch(http: &Http, policy_url: &str, domain: &str) -> Result<Policy, Failure> {
    let url = Url::parse(policy_url).expect("an https URL");
    let fix_policy = format!(
        "serve the policy at {policy_url} directly (no redirect) as text/plain, with a certificate for mta-sts.{domain}"
    );
    let document = http
        .get_document(&url)
        .await
        .map_err(|e| Failure::new(Status::Invalid, e.to_string(), Some(fix_policy.clone())))?;
    let content_type = document.content_type.as_deref().unwrap_or("");
    if media_type(content_type) != "text/plain" {
        let reason = if content_type.is_empty() {
            "the policy has no Content-Type (text/plain is required)".to_string()
        } else {
            format!("the policy is served as {content_type}, not text/plain")
        };
        return Err(Failure::new(Status::Invalid, reason, Some(fix_policy)));
    }
    std::str::from_utf8(&document.body)
        .map_err(|_| "the policy is not UTF-8 text".to_string())
        .and_then(parse_policy)
        .map_err(|e| {
            let fix = "write version: STSv1, mode, max_age and one mx line per MX host".to_string();
            Failure::new(Status::Invalid, format!("bad policy: {e}"), Some(fix))
        })
}

impl MtaStsCheck {
    /// The mode of a valid policy.
    pub fn mode(&self) -> Option<Mode> {
        self.policy.as_ref().map(|p| p.mode)
    }

    /// The human line.
    pub fn line(&self) -> Line {
        let text = match (&self.policy, &self.error) {
            (_, Some(error)) if self.id.is_some() => format!("policy refused: {error}"),
            (_, Some(error)) => error.clone(),
            (Some(policy), None) => {
                let mode = match policy.mode {
                    Mode::Enforce => "enforce",
                    Mode::Testing => "testing (failures are only reported)",
                    Mode::None => "none (the policy is withdrawn)",
                };
                let covered = self.mx_matches.iter().filter(|m| m.matches).count();
                let mut text = format!(
                    "mode {mode}, max_age {}, covers {covered} of {} MX",
                    policy.max_age,
                    self.mx_matches.len()
                );
                if let Some(cached) = &self.cached {
                    text.push_str(&format!(
                        "; cached policy (id {}, fetched {}, expires {}): {}",
                        cached.id, cached.fetched_at, cached.expires_at, cached.reason
                    ));
                }
                text
            }
            (None, None) => "no _mta-sts TXT record".to_string(),
        };
        Line {
            status: self.status,
            check: "MTA-STS",
            text,
            fix: self.fix.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_label() {
        assert!(matches("*.example.org", "mx1.example.org"));
        assert!(!matches("*.example.org", "a.b.example.org"));
        assert!(!matches("*.example.org", "example.org"));
        assert!(matches("MX.example.org.", "mx.example.org"));
    }

    #[test]
    fn policies_parse() {
        let p = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: *.example.org\r\nmax_age: 86400\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.mx, ["*.example.org"]);
        assert!(parse_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: enforce\nmax_age: 1\n").is_err());
        assert!(parse_policy("mode: none\nmax_age: 1\n").is_err());
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 99999999999\n").is_err());
    }

    #[test]
    fn records_parse() {
        let r = |s: &str| vec![s.to_string()];
        assert_eq!(
            parse_record(&r("v=STSv1; id=2024a")).unwrap(),
            Some("2024a".into())
        );
        assert_eq!(parse_record(&r("v=spf1 -all")).unwrap(), None);
        assert!(parse_record(&r("v=STSv1;")).is_err());
        assert!(parse_record(&r("v=STSv1; id=no-dash")).is_err());
    }
}
