//! Key discovery: finding a recipient's certificate in the store, in the
//! recipient domain's Web Key Directory, in DNSSEC-signed DANE records or
//! on a keyserver; validating that it is bound to the address and usable
//! now; importing it with its provenance; and remembering lookups so a
//! script sending many messages does not repeat them.
//!
//! The network methods run on a private current-thread tokio runtime, so
//! [`Discovery`] is called from synchronous code.

pub mod dane;
pub mod dns;
pub mod http;
pub mod keyserver;
pub mod outcome;
pub mod provenance;
pub mod validate;
pub mod wkd;
pub mod x509;

use std::sync::Mutex;

use sequoia_openpgp::cert::Cert;
use serde::Serialize;

use crate::config::{Config, Discovery as Settings, Network};
use crate::home::Home;
use crate::keys::{normalize_address, CertStore};
use crate::submit::Trace;
use crate::{openpgp, Error, Result};

pub use dane::{SmimeaAnswer, SmimeaCert, SmimeaRecord};
pub use outcome::{Attempt, Located, Status};
pub use provenance::{Cache, Provenance, ProvenanceStore};
pub use validate::{parse_certs, plausible_address, select, MAX_CERTS};

/// A way to find a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Store,
    Wkd,
    Dane,
    Keyserver,
}

impl Method {
    /// Parses `store`, `wkd`, `dane` or `keyserver`.
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "store" => Method::Store,
            "wkd" => Method::Wkd,
            "dane" => Method::Dane,
            "keyserver" => Method::Keyserver,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Method::Store => "store",
            Method::Wkd => "wkd",
            Method::Dane => "dane",
            Method::Keyserver => "keyserver",
        }
    }

    /// Parses a list of method names, naming a bad one in the error.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> std::result::Result<Vec<Method>, String> {
        let mut methods = Vec::new();
        for name in names {
            let method = Method::parse(name.as_ref()).ok_or_else(|| {
                format!(
                    "unknown discovery method {:?} (known: store, wkd, dane, keyserver)",
                    name.as_ref()
                )
            })?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        Ok(methods)
    }
}

/// Certificates one method brought back, before validation.
pub struct Fetched {
    pub certs: Vec<Cert>,
    /// The URL or DNS name asked.
    pub source: String,
    /// `secure` or `none`.
    pub dnssec: String,
    /// Whether the source verifies that the address owner published it.
    pub verifies_address: bool,
}

/// How one lookup runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub methods: Vec<Method>,
    /// Import from unverifying keyservers and over a stored key.
    pub accept: bool,
    /// Ignore the cache.
    pub refresh: bool,
}

/// Discovery as configured in a home.
pub struct Discovery {
    home: Home,
    settings: Settings,
    network: Network,
    methods: Vec<Method>,
    notes: Mutex<Vec<String>>,
    trace: Option<Trace>,
}

impl Discovery {
    /// Discovery for `home` as `config` sets it up.
    pub fn new(home: &Home, config: &Config) -> Result<Discovery> {
        let methods =
            Method::parse_list(&config.discovery.methods).map_err(|message| Error::Config {
                path: home.config_file(),
                message: format!("[discovery] methods: {message}"),
            })?;
        Ok(Discovery {
            home: home.clone(),
            settings: config.discovery.clone(),
            network: config.network.clone(),
            methods,
            notes: Mutex::new(Vec::new()),
            trace: None,
        })
    }

    /// Reports every HTTP request and DNS query, with its outcome, to
    /// `trace` (`-v`).
    pub fn traced(mut self, trace: Option<Trace>) -> Discovery {
        self.trace = trace;
        self
    }

    /// The configured methods, in order.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Whether sealing looks up missing keys.
    pub fn auto(&self) -> bool {
        self.settings.auto
    }

    /// Notes about lookups made while sealing, for the person.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().expect("notes"))
    }

    fn note(&self, text: String) {
        self.notes.lock().expect("notes").push(text);
    }

    /// Provenance records of the store.
    pub fn provenance(&self) -> ProvenanceStore {
        ProvenanceStore::load(&self.home.provenance_file())
    }

    /// The sealing hook: when none of `candidates` can receive encrypted
    /// mail for `address` and `discovery.auto` is on, runs the configured
    /// methods and returns what they imported. Never fails: what was tried
    /// is kept for [`Discovery::take_notes`].
    pub fn for_sealing(&self, address: &str, candidates: &[Cert]) -> Vec<Cert> {
        let networked = self.methods.iter().any(|m| *m != Method::Store);
        if !self.settings.auto
            || !networked
            || !plausible_address(address)
            || openpgp::encryption_keys(address, candidates, false).is_ok()
        {
            return Vec::new();
        }
        let options = Options {
            methods: self.methods.clone(),
            accept: false,
            refresh: false,
        };
        match self.locate(address, &options) {
            Ok(located) if located.usable() => {
                if let (Status::Imported, Some(p)) = (located.status, &located.provenance) {
                    self.note(format!(
                        "mailseal: found a key for {address} via {} ({}): {}",
                        p.method,
                        p.source,
                        located.fingerprint.as_deref().unwrap_or_default()
                    ));
                }
                located.cert.into_iter().collect()
            }
            Ok(located) => {
                let text = match located.error() {
                    Some(e) => e.to_string(),
                    None => located.tried_text(),
                };
                self.note(format!("mailseal: discovery for {address}: {text}"));
                Vec::new()
            }
            Err(e) => {
                self.note(format!("mailseal: discovery for {address} failed: {e}"));
                Vec::new()
            }
        }
    }

    /// Looks `address` up with `options`, importing what is found when it
    /// may be used.
    pub fn locate(&self, address: &str, options: &Options) -> Result<Located> {
        if !plausible_address(address) {
            return Err(Error::Usage(format!(
                "{address:?} is not an e-mail address (local@domain.example)"
            )));
        }
        let mut store = CertStore::open(&self.home.cert_dir(), &self.home.cert_index_file())?;
        let stored = store.by_address(address)?;
        let mut cache = Cache::load(&self.home.discovery_cache_file());
        let mut provenance = self.provenance();
        let mut tried = Vec::new();
        let mut rt = None;
        let located =
            |status, cert: Option<Cert>, prov: Option<Provenance>, previous, tried| Located {
                address: address.to_string(),
                status,
                fingerprint: cert.as_ref().map(|c| c.fingerprint().to_hex()),
                provenance: prov,
                previous,
                tried,
                cert,
            };
        for &method in &options.methods {
            if method == Method::Store {
                match openpgp::encryption_keys(address, &stored, false) {
                    Ok(keys) => {
                        let cert = keys.cert.clone();
                        let prov = provenance.get(&cert.fingerprint().to_hex()).last().cloned();
                        return Ok(located(Status::InStore, Some(cert), prov, vec![], tried));
                    }
                    Err(Error::NoKey { reason, .. }) => tried.push(Attempt {
                        method: "store",
                        outcome: reason,
                    }),
                    Err(e) => return Err(e),
                }
                continue;
            }
            if !options.refresh {
                let fresh = cache.fresh(
                    method.name(),
                    address,
                    self.settings.cache_ttl_secs,
                    self.settings.negative_ttl_secs,
                );
                if let Some(entry) = fresh.cloned() {
                    match entry.found {
                        Some(fpr) => {
                            let cert = store.get(&fpr)?.into_iter().collect::<Vec<_>>();
                            if let Ok(keys) = openpgp::encryption_keys(address, &cert, false) {
                                let cert = keys.cert.clone();
                                let prov = provenance.get(&fpr).last().cloned();
                                return Ok(located(
                                    Status::InStore,
                                    Some(cert),
                                    prov,
                                    vec![],
                                    tried,
                                ));
                            }
                        }
                        None => {
                            tried.push(Attempt {
                                method: method.name(),
                                outcome: format!(
                                    "{} (remembered; `cert locate --refresh` asks again)",
                                    entry.note
                                ),
                            });
                            continue;
                        }
                    }
                }
            }
            let rt = match &mut rt {
                Some(rt) => rt,
                None => rt.insert(runtime()?),
            };
            let fetched = rt.block_on(self.fetch(method, address))?;
            let fetched = match fetched {
                Ok(f) => f,
                Err(reason) => {
                    cache.put(method.name(), address, None, &reason);
                    tried.push(Attempt {
                        method: method.name(),
                        outcome: reason,
                    });
                    continue;
                }
            };
            let cert = match select(address, fetched.certs) {
                Ok(cert) => cert,
                Err(reason) => {
                    let reason = format!("{}: refused: {reason}", fetched.source);
                    cache.put(method.name(), address, None, &reason);
                    tried.push(Attempt {
                        method: method.name(),
                        outcome: reason,
                    });
                    continue;
                }
            };
            let fpr = cert.fingerprint().to_hex();
            let mut prov = Provenance {
                address: normalize_address(address),
                method: method.name().into(),
                source: fetched.source.clone(),
                dnssec: fetched.dnssec.clone(),
                fetched_at: provenance::now_rfc3339(),
                verifies_address: fetched.verifies_address,
                accepted: false,
            };
            let known = stored.iter().any(|c| c.fingerprint() == cert.fingerprint());
            let previous: Vec<String> = stored
                .iter()
                .filter(|c| c.fingerprint() != cert.fingerprint())
                .map(|c| c.fingerprint().to_hex())
                .collect();
            tried.push(Attempt {
                method: method.name(),
                outcome: format!("{}: found {fpr}", fetched.source),
            });
            let accept = options.accept || (self.settings.accept_unverified && previous.is_empty());
            if !fetched.verifies_address && !known && !accept {
                return Ok(located(
                    Status::Unverified,
                    Some(cert),
                    Some(prov),
                    vec![],
                    tried,
                ));
            }
            if !known && !previous.is_empty() {
                if !options.accept {
                    return Ok(located(
                        Status::Changed,
                        Some(cert),
                        Some(prov),
                        previous,
                        tried,
                    ));
                }
                for old in stored
                    .iter()
                    .filter(|c| c.fingerprint() != cert.fingerprint())
                {
                    store.remove(old)?;
                    provenance.forget(&old.fingerprint().to_hex())?;
                }
            }
            prov.accepted = (!fetched.verifies_address || !previous.is_empty()) && !known;
            store.insert(&cert)?;
            store.save_index()?;
            provenance.record(&fpr, prov.clone())?;
            cache.put(method.name(), address, Some(fpr.clone()), "found");
            let merged = store.get(&fpr)?.unwrap_or(cert);
            let replaced = if prov.accepted { previous } else { vec![] };
            return Ok(located(
                Status::Imported,
                Some(merged),
                Some(prov),
                replaced,
                tried,
            ));
        }
        Ok(located(Status::NotFound, None, None, vec![], tried))
    }

    /// Runs one network method; the inner error is why it found nothing.
    async fn fetch(
        &self,
        method: Method,
        address: &str,
    ) -> Result<std::result::Result<Fetched, String>> {
        Ok(match method {
            Method::Store => unreachable!("the store is not fetched"),
            Method::Wkd => {
                let http = self.http()?;
                wkd::fetch(&http, address).await
            }
            Method::Dane => {
                let resolver = self.validating_resolver()?;
                dane::openpgpkey(&resolver, address).await
            }
            Method::Keyserver => {
                if self.settings.keyservers.is_empty() {
                    return Ok(Err("no keyserver is configured".into()));
                }
                let http = self.http()?;
                let mut reasons = Vec::new();
                for spec in &self.settings.keyservers {
                    let server =
                        keyserver::Server::parse(spec).map_err(|message| Error::Config {
                            path: self.home.config_file(),
                            message: format!("[discovery] keyservers: {message}"),
                        })?;
                    match server.fetch(&http, address).await {
                        Ok(found) => return Ok(Ok(found)),
                        Err(reason) => reasons.push(reason),
                    }
                }
                Err(reasons.join("; "))
            }
        })
    }

    fn http(&self) -> Result<http::Http> {
        let http = http::Http::new(
            &self.network,
            self.settings.timeout_secs,
            self.settings.max_response_bytes,
        )?;
        Ok(http.traced(self.trace.clone()))
    }

    fn validating_resolver(&self) -> Result<dns::Resolver> {
        let resolver = dns::Resolver::new(
            &self.network,
            Some(self.settings.dnssec_trust_anchor.as_deref()),
            self.settings.timeout_secs,
        )?;
        Ok(resolver.traced(self.trace.clone()))
    }

    /// SMIMEA (RFC 8162) for `address`: DNSSEC-validated records and the
    /// end-entity certificates they carry, checked to name the address and
    /// be valid now. Nothing is stored: the S/MIME certificate store
    /// decides what to keep (and runs PKIX validation where
    /// [`SmimeaCert::needs_pkix`] says so). `Ok(Err(reason))` when there is
    /// no usable answer; `Err` only for configuration problems.
    pub fn smimea(
        &self,
        address: &str,
    ) -> Result<std::result::Result<(SmimeaAnswer, Provenance), String>> {
        if !plausible_address(address) {
            return Err(Error::Usage(format!(
                "{address:?} is not an e-mail address"
            )));
        }
        let answer = runtime()?.block_on(async {
            let resolver = self.validating_resolver()?;
            Ok::<_, Error>(dane::smimea(&resolver, address).await)
        })?;
        Ok(answer.map(|answer| {
            let prov = Provenance {
                address: normalize_address(address),
                method: "smimea".into(),
                source: answer.name.clone(),
                dnssec: "secure".into(),
                fetched_at: provenance::now_rfc3339(),
                verifies_address: true,
                accepted: false,
            };
            (answer, prov)
        }))
    }
}

/// A private runtime for one command's network work.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the network runtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse() {
        assert_eq!(
            Method::parse_list(&["store", "WKD", "dane", "keyserver", "wkd"]).unwrap(),
            vec![Method::Store, Method::Wkd, Method::Dane, Method::Keyserver]
        );
        assert!(Method::parse_list(&["ldap"]).unwrap_err().contains("ldap"));
    }
}
