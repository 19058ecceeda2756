//! The MTA-STS policy cache (RFC 8461 §3.3, §5.1): a policy once fetched
//! is kept for its `max_age`, keyed by the id of the TXT record it was
//! fetched under. While it is fresh it is refetched only when the id
//! changes, and it stands when no live policy can be had (the TXT record
//! or the HTTPS fetch fails or is blocked), so an attacker who blocks
//! either cannot downgrade a domain that senders have seen in enforce
//! mode.
//!
//! One small JSON file in the home (`mta-sts-cache.json`, written
//! atomically with mode 0600), keyed by domain:
//!
//! ```json
//! { "domains": { "example.org": { "id": "20240101T01",
//!   "policy": { "version": "STSv1", "mode": "enforce",
//!     "mx": ["*.example.org"], "max_age": 86400 },
//!   "fetched_at": 1796601600 } } }
//! ```
//!
//! Saving is best effort: a read-only home only loses the cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::mta_sts::Policy;
use crate::home::write_private_file;
use crate::Result;

/// One cached policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The TXT record's id when the policy was fetched.
    pub id: String,
    pub policy: Policy,
    /// Seconds since the epoch when it was fetched.
    pub fetched_at: u64,
}

impl Entry {
    /// Seconds since the epoch when the policy expires.
    pub fn expires_at(&self) -> u64 {
        self.fetched_at.saturating_add(self.policy.max_age)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    domains: BTreeMap<String, Entry>,
}

/// The cache of one run of the checks.
#[derive(Debug, Default)]
pub struct Cache {
    /// Where it is saved; `None`: nothing is remembered.
    path: Option<PathBuf>,
    file: File,
    changed: bool,
}

impl Cache {
    /// Loads `path`; a missing or unreadable file is an empty cache.
    /// `None` is a cache that remembers nothing between runs.
    pub fn load(path: Option<&Path>) -> Cache {
        let file = path
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|data| serde_json::from_slice(&data).ok())
            .unwrap_or_default();
        Cache {
            path: path.map(Path::to_path_buf),
            file,
            changed: false,
        }
    }

    /// The policy cached for `domain`, unless it expired by `now`.
    pub fn fresh(&self, domain: &str, now: u64) -> Option<&Entry> {
        self.file
            .domains
            .get(domain)
            .filter(|entry| now < entry.expires_at())
    }

    /// Remembers `policy`, fetched at `now` under `id`, for `domain`, and
    /// forgets expired entries.
    pub fn put(&mut self, domain: &str, id: &str, policy: &Policy, now: u64) {
        if self.path.is_none() {
            return;
        }
        self.file.domains.insert(
            domain.to_string(),
            Entry {
                id: id.to_string(),
                policy: policy.clone(),
                fetched_at: now,
            },
        );
        self.file.domains.retain(|_, e| now < e.expires_at());
        self.changed = true;
    }

    /// Writes the file if anything was put since it was loaded.
    pub fn save(&mut self) -> Result<()> {
        match &self.path {
            Some(path) if self.changed => {
                let text = serde_json::to_vec_pretty(&self.file).expect("serializable");
                write_private_file(path, &text)?;
                self.changed = false;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `seconds` since the epoch as RFC 3339.
pub fn rfc3339(seconds: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::mta_sts::Mode;

    fn policy(max_age: u64) -> Policy {
        Policy {
            version: "STSv1".into(),
            mode: Mode::Enforce,
            mx: vec!["*.example.org".into()],
            max_age,
        }
    }

    #[test]
    fn entries_live_for_max_age_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mta-sts-cache.json");
        let mut cache = Cache::load(Some(&path));
        cache.put("example.org", "1", &policy(100), 1000);
        cache.save().unwrap();
        let cache = Cache::load(Some(&path));
        assert_eq!(cache.fresh("example.org", 1099).unwrap().id, "1");
        assert!(cache.fresh("example.org", 1100).is_none());
        assert!(cache.fresh("example.net", 1000).is_none());
    }

    #[test]
    fn without_a_path_nothing_is_remembered() {
        let mut cache = Cache::load(None);
        cache.put("example.org", "1", &policy(100), 1000);
        assert!(cache.fresh("example.org", 1000).is_none());
        cache.save().unwrap();
    }
}
