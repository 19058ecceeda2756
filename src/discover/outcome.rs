//! What a lookup ended with: the status, the certificate and provenance,
//! every method tried, and the error a command reports.

use sequoia_openpgp::cert::Cert;
use serde::Serialize;

use super::Provenance;
use crate::Error;

/// One method tried, and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub method: &'static str,
    pub outcome: String,
}

/// What a lookup ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A usable certificate was already in the store.
    InStore,
    /// A certificate was found and imported.
    Imported,
    /// Found only on a keyserver that does not verify addresses: not
    /// imported without `--accept`.
    Unverified,
    /// Found a different certificate than the one stored for the address:
    /// not imported without `--accept`.
    Changed,
    /// Nothing usable anywhere.
    NotFound,
}

/// The result of looking up one address.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub address: String,
    pub status: Status,
    /// The certificate found (imported or not).
    pub fingerprint: Option<String>,
    pub provenance: Option<Provenance>,
    /// Stored certificates for the address that differ from the one found
    /// (with `Changed`), or that it replaced (with `--accept`).
    pub previous: Vec<String>,
    pub tried: Vec<Attempt>,
    #[serde(skip)]
    pub cert: Option<Cert>,
}

impl Located {
    /// Whether a usable certificate is now in the store.
    pub fn usable(&self) -> bool {
        matches!(self.status, Status::InStore | Status::Imported)
    }

    /// The error a command reports when the lookup found nothing usable.
    pub fn error(&self) -> Option<Error> {
        let fingerprint = self.fingerprint.clone().unwrap_or_default();
        let source = self
            .provenance
            .as_ref()
            .map(|p| format!("{} {}", p.method, p.source))
            .unwrap_or_default();
        match self.status {
            Status::InStore | Status::Imported => None,
            Status::Changed => Some(Error::KeyChanged {
                address: self.address.clone(),
                stored: self.previous.join(", "),
                found: fingerprint,
                origin: source,
            }),
            Status::Unverified => Some(Error::UnverifiedKey {
                address: self.address.clone(),
                fingerprint,
                origin: source,
            }),
            Status::NotFound => Some(Error::NoKey {
                recipient: self.address.clone(),
                reason: self.tried_text(),
            }),
        }
    }

    /// `method: outcome; ...`.
    pub fn tried_text(&self) -> String {
        if self.tried.is_empty() {
            return "no discovery method is enabled".into();
        }
        self.tried
            .iter()
            .map(|a| format!("{}: {}", a.method, a.outcome))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
