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
//! read-only home never fails a delivery. Writers in one process are
//! serialised; two processes writing at the same moment may lose one
//! record (the next delivery writes it again).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

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

/// Records `transport` as the last use of its relay, now.
pub fn record(home: &Home, transport: &Transport) -> Result<()> {
    record_at(&home.relay_hops_file(), transport)
}

/// [`record`] into the file at `path`.
pub fn record_at(path: &Path, transport: &Transport) -> Result<()> {
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut file = read(path);
    file.relays.insert(
        transport.relay.clone(),
        Hop {
            host: transport.host.clone(),
            port: transport.port,
            mode: transport.mode.to_string(),
            tls_version: transport.tls_version.clone(),
            cipher_suite: transport.cipher_suite.clone(),
            server_name_verified: transport.server_name_verified.clone(),
            last_used: now_rfc3339(),
        },
    );
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
