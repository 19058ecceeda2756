//! Posture checks of mail domains: how a recipient domain's inbound mail
//! is protected in transit (MX, MTA-STS, DANE, TLS-RPT) and how a sender
//! domain authenticates its mail (SPF, DMARC, DKIM, BIMI). Every check
//! reports a [`Status`], what it saw, what it protects against and what
//! to fix; nothing here prints.

pub mod bimi;
pub mod check;
pub mod dane;
pub mod dkim;
pub mod dmarc;
pub mod level;
pub mod mta_sts;
pub mod mx;
pub mod spf;
pub mod sts_cache;
pub mod tls_rpt;
pub mod txt;

use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;
use crate::discover::dns::Resolver;
use crate::discover::http::Http;
use crate::submit::Trace;
use crate::{Error, Result};

pub use check::{Line, Status};

/// Largest MTA-STS policy accepted (RFC 8461 §3.3 suggests 64 KiB).
const MAX_POLICY_BYTES: u64 = 64 * 1024;

/// How well inbound mail to a domain is protected against downgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inbound {
    /// Every MX has DNSSEC-validated TLSA records.
    ProtectedByDane,
    /// A valid MTA-STS policy in enforce mode.
    ProtectedByMtaSts,
    /// An attacker on the path can strip or fake TLS.
    CanBeDowngraded,
}

/// The recipient-domain part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct InboundReport {
    pub summary: Inbound,
    /// The summary in words, with the reason when it can be downgraded.
    pub summary_text: String,
    pub mx: mx::MxCheck,
    pub mta_sts: mta_sts::MtaStsCheck,
    pub dane: dane::DaneCheck,
    pub tls_rpt: tls_rpt::TlsRptCheck,
}

/// The summary of a recipient domain's inbound checks, as a recipient's
/// report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundSummary {
    pub domain: String,
    /// `None` when the checks could not run.
    pub summary: Option<Inbound>,
    pub summary_text: String,
}

impl InboundSummary {
    /// `inbound mail to DOMAIN protected by …`.
    pub fn describe(&self) -> String {
        format!("inbound mail to {} {}", self.domain, self.summary_text)
    }
}

/// The sender-domain part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct SenderReport {
    pub spf: spf::SpfCheck,
    pub dmarc: dmarc::DmarcCheck,
    pub dkim: dkim::DkimCheck,
    pub bimi: bimi::BimiCheck,
}

impl SenderReport {
    /// One line per check, most risky first.
    pub fn lines(&self) -> Vec<Line> {
        let mut lines = vec![
            self.spf.line(),
            self.dmarc.line(),
            self.dkim.line(),
            self.bimi.line(),
        ];
        lines.sort_by_key(|l| l.status);
        lines
    }
}

/// Everything checked for one domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainReport {
    pub domain: String,
    pub inbound: InboundReport,
    pub sender: SenderReport,
}

impl DomainReport {
    /// One line per check, most risky first (checks of equal status keep
    /// their order: inbound, then sender).
    pub fn lines(&self) -> Vec<Line> {
        let mut lines = vec![
            self.inbound.mx.line(),
            self.inbound.mta_sts.line(),
            self.inbound.dane.line(),
            self.inbound.tls_rpt.line(),
            self.sender.spf.line(),
            self.sender.dmarc.line(),
            self.sender.dkim.line(),
            self.sender.bimi.line(),
        ];
        lines.sort_by_key(|l| l.status);
        lines
    }
}

/// The summary of the inbound checks.
pub fn summarize(
    mx: &mx::MxCheck,
    sts: &mta_sts::MtaStsCheck,
    dane: &dane::DaneCheck,
) -> (Inbound, String) {
    if mx.null_mx {
        return (
            Inbound::CanBeDowngraded,
            "accepts no mail (null MX)".to_string(),
        );
    }
    if dane.protects() {
        return (Inbound::ProtectedByDane, "protected by DANE".to_string());
    }
    let mode = if sts.status == Status::Invalid {
        None
    } else {
        sts.mode()
    };
    let reason = match mode {
        Some(mta_sts::Mode::Enforce) => {
            let text = if sts.cached.is_some() {
                "protected by MTA-STS (enforce, cached policy)"
            } else {
                "protected by MTA-STS (enforce)"
            };
            return (Inbound::ProtectedByMtaSts, text.to_string());
        }
        Some(mta_sts::Mode::Testing) => "MTA-STS is in testing mode, which only reports failures",
        Some(mta_sts::Mode::None) => "the MTA-STS policy has mode none",
        None if sts.status == Status::Invalid => "the MTA-STS policy is invalid",
        None if dane.error.is_some() => {
            "no MTA-STS policy, and the TLSA records do not count: the MX records are not DNSSEC-secure"
        }
        None => "no MTA-STS policy and no DNSSEC-signed TLSA records",
    };
    (
        Inbound::CanBeDowngraded,
        format!("can be downgraded ({reason})"),
    )
}

/// Runs the checks with the resolvers and HTTP client `config` sets up.
pub struct Checker {
    config: Config,
    trace: Option<Trace>,
    /// The MTA-STS policy cache file; `None`: policies are not cached.
    sts_cache: Option<PathBuf>,
}

impl Checker {
    pub fn new(config: &Config) -> Checker {
        Checker {
            config: config.clone(),
            trace: None,
            sts_cache: None,
        }
    }

    /// Keeps MTA-STS policies in `path` (HOME/mta-sts-cache.json, see
    /// [`sts_cache`]) and applies them as senders do (RFC 8461 §3.3).
    pub fn cached_in(mut self, path: PathBuf) -> Checker {
        self.sts_cache = Some(path);
        self
    }

    /// Reports every DNS query and HTTP request to `trace` (`-v`).
    pub fn traced(mut self, trace: Option<Trace>) -> Checker {
        self.trace = trace;
        self
    }

    /// Checks each of `domains`. Fails with [`Error::Temporary`] only when
    /// the DNS servers cannot be asked at all.
    pub fn check(&self, domains: &[String]) -> Result<Vec<DomainReport>> {
        let domains = domains
            .iter()
            .map(|d| normalize(d))
            .collect::<Result<Vec<_>>>()?;
        let mut cache = sts_cache::Cache::load(self.sts_cache.as_deref());
        let reports = crate::discover::runtime()?.block_on(async {
            let clients = self.clients()?;
            let mut reports = Vec::new();
            for domain in &domains {
                reports.push(self.one(&clients, &mut cache, domain).await?);
            }
            Ok::<_, Error>(reports)
        })?;
        self.save(&mut cache);
        Ok(reports)
    }

    /// Only the inbound checks of `domain` (MX, MTA-STS, DANE, TLS-RPT):
    /// how exposed a copy that is not encrypted end to end is on its way
    /// into that domain. Fails like [`Checker::check`].
    pub fn inbound(&self, domain: &str) -> Result<InboundReport> {
        let domain = normalize(domain)?;
        let mut cache = sts_cache::Cache::load(self.sts_cache.as_deref());
        let report = crate::discover::runtime()?.block_on(async {
            let clients = self.clients()?;
            self.inbound_one(&clients, &mut cache, &domain).await
        })?;
        self.save(&mut cache);
        Ok(report)
    }

    /// Saves `cache`; a failure only loses it (reported to the trace).
    fn save(&self, cache: &mut sts_cache::Cache) {
        if let (Err(e), Some(trace)) = (cache.save(), &self.trace) {
            trace(&format!("cannot save the MTA-STS policy cache: {e}"));
        }
    }

    /// Only the sender checks of `domain` (SPF, DMARC, DKIM, BIMI): how
    /// well mail from it can be told from forgeries. Fails like
    /// [`Checker::check`].
    pub fn sender(&self, domain: &str) -> Result<SenderReport> {
        let domain = normalize(domain)?;
        crate::discover::runtime()?.block_on(async {
            let (plain, _, _) = self.clients()?;
            Ok(self.sender_one(&plain, &domain).await)
        })
    }

    async fn sender_one(&self, plain: &Resolver, domain: &str) -> SenderReport {
        let selectors = &self.config.domain.dkim_selectors;
        SenderReport {
            spf: spf::check(plain, domain).await,
            dmarc: dmarc::check(plain, domain).await,
            dkim: dkim::check(plain, domain, selectors).await,
            bimi: bimi::check(plain, domain).await,
        }
    }

    /// [`Checker::inbound`] in short, for one recipient's copy: a check
    /// that could not run is a summary without a verdict.
    pub fn inbound_summary(&self, domain: &str) -> InboundSummary {
        match self.inbound(domain) {
            Ok(r) => InboundSummary {
                domain: domain.to_ascii_lowercase(),
                summary: Some(r.summary),
                summary_text: r.summary_text,
            },
            Err(e) => InboundSummary {
                domain: domain.to_ascii_lowercase(),
                summary: None,
                summary_text: format!("not checked ({e})"),
            },
        }
    }

    /// The plain resolver, the validating one and the HTTP client.
    fn clients(&self) -> Result<(Resolver, Resolver, Http)> {
        let network = &self.config.network;
        let settings = &self.config.discovery;
        let timeout = settings.timeout_secs;
        let plain = Resolver::new(network, None, timeout)?.traced(self.trace.clone());
        let validating = Resolver::new(
            network,
            Some(settings.dnssec_trust_anchor.as_deref()),
            timeout,
        )?
        .traced(self.trace.clone());
        let max = settings.max_response_bytes.min(MAX_POLICY_BYTES);
        let http = Http::without_redirects(network, timeout, max)?.traced(self.trace.clone());
        Ok((plain, validating, http))
    }

    async fn inbound_one(
        &self,
        (plain, validating, http): &(Resolver, Resolver, Http),
        cache: &mut sts_cache::Cache,
        domain: &str,
    ) -> Result<InboundReport> {
        let mx = mx::check(validating, plain, domain)
            .await
            .map_err(|e| Error::Temporary(format!("cannot check {domain}: {e}")))?;
        let now = sts_cache::unix_now();
        let sts = mta_sts::check(plain, http, domain, &mx.hosts, cache, now).await;
        let dane = dane::check(validating, plain, &mx).await;
        let tls_rpt = tls_rpt::check(plain, domain).await;
        let (summary, summary_text) = summarize(&mx, &sts, &dane);
        Ok(InboundReport {
            summary,
            summary_text,
            mx,
            mta_sts: sts,
            dane,
            tls_rpt,
        })
    }

    async fn one(
        &self,
        clients: &(Resolver, Resolver, Http),
        cache: &mut sts_cache::Cache,
        domain: &str,
    ) -> Result<DomainReport> {
        let inbound = self.inbound_one(clients, cache, domain).await?;
        Ok(DomainReport {
            domain: domain.to_string(),
            inbound,
            sender: self.sender_one(&clients.0, domain).await,
        })
    }
}

/// `domain` lowercased without a final dot, or a usage error.
pub fn normalize(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(d)
    } else {
        Err(Error::Usage(format!(
            "{domain:?} is not a domain name (give it without user@, e.g. example.org)"
        )))
    }
}
