//! Where each discovered certificate came from, and the lookup cache.
//! Both live in the mailseal home as JSON files written atomically with
//! mode 0600 (never in a shared openpgp-cert-d).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::home::write_private_file;
use crate::Result;

/// How and where a certificate was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The address it was looked up for.
    pub address: String,
    /// `wkd`, `dane`, `keyserver` (or `smimea`).
    pub method: String,
    /// The URL or DNS name it came from.
    pub source: String,
    /// `secure` (DNSSEC-validated) for DANE; `none` for methods without DNS.
    pub dnssec: String,
    /// When it was fetched (RFC 3339, UTC).
    pub fetched_at: String,
    /// Whether the source checks that the address owner published the key
    /// (WKD, DANE, VKS do; HKP keyservers do not).
    pub verifies_address: bool,
    /// Imported from an unverifying source or over a stored key because
    /// the user said so (`cert locate --accept`).
    pub accepted: bool,
}

impl Provenance {
    /// `wkd https://… at TIME, DNSSEC-validated, accepted by you`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {} at {}", self.method, self.source, self.fetched_at);
        if self.dnssec == "secure" {
            text.push_str(", DNSSEC-validated");
        }
        if !self.verifies_address {
            text.push_str(", unverified source");
        }
        if self.accepted {
            text.push_str(", accepted by you");
        }
        text
    }
}

/// The current time as RFC 3339.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Provenance records by primary fingerprint (uppercase hex).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ProvenanceStore {
    #[serde(skip)]
    path: PathBuf,
    certs: BTreeMap<String, Vec<Provenance>>,
}

impl ProvenanceStore {
    /// Loads `path`; a missing or unreadable file is an empty store.
    pub fn load(path: &Path) -> ProvenanceStore {
        let mut store: ProvenanceStore = std::fs::read(path)
            .ok()
            .and_then(|data| serde_json::from_slice(&data).ok())
            .unwrap_or_default();
        store.path = path.to_path_buf();
        store
    }

    /// The records for `fingerprint`, newest last.
    pub fn get(&self, fingerprint: &str) -> &[Provenance] {
        self.certs
            .get(&fingerprint.to_uppercase())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Records `provenance` for `fingerprint`, replacing an older record
    /// for the same address and method, and saves the file.
    pub fn record(&mut self, fingerprint: &str, provenance: Provenance) -> Result<()> {
        let list = self.certs.entry(fingerprint.to_uppercase()).or_default();
        list.retain(|p| !(p.address == provenance.address && p.method == provenance.method));
        list.push(provenance);
        self.save()
    }

    /// Forgets `fingerprint` (after `cert remove`) and saves the file.
    pub fn forget(&mut self, fingerprint: &str) -> Result<()> {
        if self.certs.remove(&fingerprint.to_uppercase()).is_some() {
            self.save()?;
        }
        Ok(())
    }

    fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).expect("serializable");
        write_private_file(&self.path, &text)
    }
}

/// One remembered lookup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Seconds since the epoch when the lookup ran.
    pub at: u64,
    /// The fingerprint found, or `None` for a miss or a failure.
    pub found: Option<String>,
    /// What happened, for messages.
    pub note: String,
}

/// Lookups by `METHOD ADDRESS`, with a TTL for hits and one for misses.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cache {
    #[serde(skip)]
    path: PathBuf,
    entries: BTreeMap<String, CacheEntry>,
}

impl Cache {
    /// Loads `path`; a missing or unreadable file is an empty cache.
    pub fn load(path: &Path) -> Cache {
        let mut cache: Cache = std::fs::read(path)
            .ok()
            .and_then(|data| serde_json::from_slice(&data).ok())
            .unwrap_or_default();
        cache.path = path.to_path_buf();
        cache
    }

    /// The entry for `method` and `address` if it is younger than its TTL.
    pub fn fresh(
        &self,
        method: &str,
        address: &str,
        ttl: u64,
        negative_ttl: u64,
    ) -> Option<&CacheEntry> {
        let entry = self.entries.get(&key(method, address))?;
        let ttl = if entry.found.is_some() {
            ttl
        } else {
            negative_ttl
        };
        (unix_now().saturating_sub(entry.at) < ttl).then_some(entry)
    }

    /// Remembers a lookup and saves the file (a read-only home only loses
    /// the cache).
    pub fn put(&mut self, method: &str, address: &str, found: Option<String>, note: &str) {
        let now = unix_now();
        self.entries.insert(
            key(method, address),
            CacheEntry {
                at: now,
                found,
                note: note.to_string(),
            },
        );
        // Entries older than a week are dropped so the file stays small.
        self.entries
            .retain(|_, e| now.saturating_sub(e.at) < 7 * 86_400);
        let text = serde_json::to_vec_pretty(self).expect("serializable");
        let _ = write_private_file(&self.path, &text);
    }
}

fn key(method: &str, address: &str) -> String {
    format!("{method} {}", crate::keys::normalize_address(address))
}
