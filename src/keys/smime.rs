//! S/MIME stores: own keys with their certificate chains, and others'
//! X.509 certificates with a note of where each came from. They live here,
//! beside the OpenPGP stores, so one part owns every store in the home.

use std::path::{Path, PathBuf};

use crate::home::{read_private_file, write_private_file};
use crate::smime::certs::{parse_certs, OwnIdentity, OwnKey, SmimeCert};
use crate::{Error, Result};

/// Own S/MIME keys: `DIR/<fingerprint>/key.der` (PKCS#8, 0600) and
/// `DIR/<fingerprint>/chain.pem` (end-entity certificate first).
#[derive(Debug, Clone)]
pub struct OwnKeys {
    dir: PathBuf,
}

impl OwnKeys {
    pub fn new(dir: &Path) -> OwnKeys {
        OwnKeys {
            dir: dir.to_path_buf(),
        }
    }

    /// Stores `identity`, replacing any earlier copy.
    pub fn insert(&self, identity: &OwnIdentity) -> Result<()> {
        let dir = self.dir.join(identity.cert.fingerprint());
        write_private_file(&dir.join("key.der"), &identity.key.to_pkcs8_der()?)?;
        let mut pem = identity.cert.to_pem();
        for c in &identity.chain {
            pem.push_str(&c.to_pem());
        }
        write_private_file(&dir.join("chain.pem"), pem.as_bytes())
    }

    /// Removes the identity stored for certificate `fingerprint`.
    pub fn remove(&self, fingerprint: &str) -> Result<()> {
        let dir = self.dir.join(fingerprint);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", dir.display()), e)),
        }
    }

    /// Every own identity.
    pub fn all(&self) -> Result<Vec<OwnIdentity>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", self.dir.display()), e)),
        };
        let mut out = Vec::new();
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if !path.join("key.der").exists() {
                continue;
            }
            let key = OwnKey::parse(&read_private_file(&path.join("key.der"))?)?;
            let chain_bytes = std::fs::read(path.join("chain.pem"))
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            let mut certs = parse_certs(&chain_bytes)?;
            let cert = certs.remove(0);
            out.push(OwnIdentity {
                key,
                cert,
                chain: certs,
            });
        }
        Ok(out)
    }

    /// Own identities whose certificate is for `query` (an address) or
    /// whose fingerprint starts with it.
    pub fn find(&self, query: &str) -> Result<Vec<OwnIdentity>> {
        let q = query.trim().to_lowercase();
        Ok(self
            .all()?
            .into_iter()
            .filter(|id| {
                id.cert.has_address(&q) || (q.len() >= 8 && id.cert.fingerprint().starts_with(&q))
            })
            .collect())
    }
}

/// Where a certificate in the others' store came from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// How it was found: `import`, `message`, `dane`, ...
    pub method: String,
    /// A file name, URL or DNS name.
    pub source: String,
    /// When, RFC 3339.
    pub time: String,
}

/// Others' X.509 certificates: `DIR/<fingerprint>.der` with a JSON note of
/// its provenance beside it. Lookup by address reads the certificates'
/// own addresses, so the index can never disagree with them.
#[derive(Debug, Clone)]
pub struct CertStore {
    dir: PathBuf,
}

impl CertStore {
    pub fn new(dir: &Path) -> CertStore {
        CertStore {
            dir: dir.to_path_buf(),
        }
    }

    /// Adds a certificate (DER) with a note of where it came from; returns
    /// whether it was new. This is the entry point for discovery (SMIMEA).
    pub fn insert_der(&self, der: &[u8], provenance: &Provenance) -> Result<(SmimeCert, bool)> {
        let cert = SmimeCert::from_der(der)?;
        let path = self.dir.join(format!("{}.der", cert.fingerprint()));
        let new = !path.exists();
        crate::home::create_private_dir(&self.dir)?;
        write_private_file(&path, der)?;
        let note = serde_json::to_vec_pretty(provenance).expect("serializable");
        write_private_file(&path.with_extension("json"), &note)?;
        Ok((cert, new))
    }

    /// Every stored certificate.
    pub fn all(&self) -> Result<Vec<SmimeCert>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", self.dir.display()), e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "der"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let der = std::fs::read(p)
                    .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
                SmimeCert::from_der(&der)
            })
            .collect()
    }

    /// Certificates for `address`.
    pub fn by_address(&self, address: &str) -> Result<Vec<SmimeCert>> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|c| c.has_address(address))
            .collect())
    }

    /// The provenance note of a certificate, if any.
    pub fn provenance(&self, fingerprint: &str) -> Option<Provenance> {
        let data = std::fs::read(self.dir.join(format!("{fingerprint}.json"))).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Removes a certificate by fingerprint (prefix of at least 8).
    pub fn remove(&self, fingerprint: &str) -> Result<bool> {
        let q = fingerprint.to_lowercase();
        for cert in self.all()? {
            let fpr = cert.fingerprint();
            if q.len() >= 8 && fpr.starts_with(&q) {
                let path = self.dir.join(format!("{fpr}.der"));
                std::fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                let _ = std::fs::remove_file(path.with_extension("json"));
                return Ok(true);
            }
        }
        Ok(false)
    }
}

pub use crate::discover::provenance::now_rfc3339;
