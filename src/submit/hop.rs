//! Hop 1 (mailseal → relay): how the last successful submission through
//! each relay was protected, remembered so that `status` can show it.
//!
//! One small JSON file in the home (`relay-hops.json`, written atomically
//! with mode 0600), keyed by relay name:
//!
//! ```json
//! { "relays": { "default": { "host": "smtp.example.org", "port": 587,
//!   "mode": "starttls", "tls_version": "TLSv1.3",
//!   "cipher_suite": "TLS13_AES_256_GCM_SHA384",
//!   "server_name_verified": "smtp.example.org",
//!   "last_used": "2026-12-06T23:59:00Z" } } }
//! ```
//!
//! Recording is best effort: callers ignore (or log) a failure, so a
//! read-only home never fails a delivery. The agent records through a
//! [`Recorder`], which skips unchanged hops for a minute. Writers in one process are
//! serialised; two processes writing at the same moment may lose one
//! record (the next delivery writes it again).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Transport;
use crate::discover::provenance::now_rfc3339;
use crate::home::{write_private_file, Home};
use crate::Result;

/// The last successful connection through one relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub host: String,
    pub port: u16,
    /// `starttls` or `implicit`.
    pub mode: String,
    pub tls_version: String,
    pub cipher_suite: String,
    /// The name the relay's certificate was verified for.
    pub server_name_verified: String,
    /// When (RFC 3339, UTC).
    pub last_used: String,
}

impl Hop {
    /// What `transport` saw, with `last_used` left empty.
    fn of(transport: &Transport) -> Hop {
        Hop {
            host: transport.host.clone(),
            port: transport.port,
            mode: transport.mode.to_string(),
            tls_version: transport.tls_version.clone(),
            cipher_suite: transport.cipher_suite.clone(),
            server_name_verified: transport.server_name_verified.clone(),
            last_used: String::new(),
        }
    }

    /// `HOST:PORT, STARTTLS): TLSv1.3 SUITE, certificate verified for NAME,
    /// last used TIME` — the part of the status line after the relay name.
    pub fn describe(&self) -> String {
        let mode = match self.mode.as_str() {
            "starttls" => "STARTTLS",
            "implicit" => "implicit TLS",
            other => other,
        };
        format!(
            "{}:{}, {mode}): {} {}, certificate verified for {}, last used {}",
            self.host,
            self.port,
            self.tls_version,
            self.cipher_suite,
            self.server_name_verified,
            self.last_used
        )
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    relays: BTreeMap<String, Hop>,
}

static WRITING: Mutex<()> = Mutex::new(());

/// Records hops for a long-running deliverer (the agent's worker): a
/// relay's hop is written when what was seen changes, and otherwise at
/// most once a minute, so deliveries do not each pay a synced write.
pub struct Recorder {
    path: PathBuf,
    /// Per relay: what was last written, and when.
    written: Mutex<HashMap<String, (Hop, Instant)>>,
}

/// How long an unchanged hop goes without its `last_used` being renewed.
const RENEW: Duration = Duration::from_secs(60);

impl Recorder {
    /// A recorder writing to `path` (HOME/relay-hops.json).
    pub fn new(path: PathBuf) -> Recorder {
        Recorder {
            path,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Records `transport` if it is due (see [`Recorder`]); `Ok(false)`
    /// when it was not.
    pub fn record(&self, transport: &Transport) -> Result<bool> {
        let hop = Hop::of(transport);
        {
            let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = written
                .get(&transport.relay)
                .is_some_and(|(last, at)| at.elapsed() < RENEW && *last == hop);
            if fresh {
                return Ok(false);
            }
            written.insert(transport.relay.clone(), (hop, Instant::now()));
        }
        record_at(&self.path, transport).map(|()| true)
    }
}

/// Records `transport` as the last use of its relay, now.
pub fn record(home: &Home, transport: &Transport) -> Result<()> {
    record_at(&home.relay_hops_file(), transport)
}

/// [`record`] into the file at `path`.
pub fn record_at(path: &Path, transport: &Transport) -> Result<()> {
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut file = read(path);
    let hop = Hop {
        last_used: now_rfc3339(),
        ..Hop::of(transport)
    };
    file.relays.insert(transport.relay.clone(), hop);
    let text = serde_json::to_vec_pretty(&file).expect("serializable");
    write_private_file(path, &text)
}

/// The remembered hops by relay name; a missing or unreadable file is none.
pub fn load(home: &Home) -> BTreeMap<String, Hop> {
    read(&home.relay_hops_file()).relays
}

fn read(path: &Path) -> File {
    std::fs::read(path)
        .ok()
        .and_then(|data| serde_json::from_slice(&data).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(tls_version: &str) -> Transport {
        Transport {
            relay: "default".into(),
            host: "smtp.example.org".into(),
            port: 587,
            mode: "starttls",
            tls_version: tls_version.into(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
            server_name_verified: "smtp.example.org".into(),
            spki_pin: None,
            pin_checked: false,
            certificate_chain: Vec::new(),
            auth_mechanisms: Vec::new(),
            authenticated_as: None,
        }
    }

    #[test]
    fn the_recorder_writes_again_only_when_what_it_saw_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay-hops.json");
        let recorder = Recorder::new(path.clone());
        assert!(recorder.record(&transport("TLSv1.3")).unwrap());
        assert!(!recorder.record(&transport("TLSv1.3")).unwrap());
        assert!(recorder.record(&transport("TLSv1.2")).unwrap());
        let stored = read(&path).relays.remove("default").unwrap();
        assert_eq!(stored.tls_version, "TLSv1.2");
        assert!(!stored.last_used.is_empty());
    }
}
