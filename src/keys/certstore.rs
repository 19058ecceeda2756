//! Others' certificates in an openpgp-cert-d directory (the format `sq`
//! uses), with an address and key index that stays valid as long as the
//! directory's tag does not change, so lookups stay fast with many
//! thousands of certificates.

use std::fs;
use std::path::{Path, PathBuf};

use openpgp_cert_d::{CertD, MergeResult};
use sequoia_openpgp::cert::Cert;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::serialize::SerializeInto;
use sequoia_openpgp::KeyHandle;

use super::addresses;
use crate::home::{create_private_dir, write_private_file};
use crate::{Error, Result};

const INDEX_HEADER: &str = "mailseal-cert-index 1";

/// What an import did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportOutcome {
    New,
    Updated,
    Unchanged,
}

/// The certificate store.
pub struct CertStore {
    certd: CertD,
    index_file: PathBuf,
    index: Index,
}

/// The index, kept as the text it is stored as and searched on demand:
/// loading is one read, a lookup one substring search, whatever the size.
///
/// After a header line `mailseal-cert-index 1 TAG`, each line is
/// `a<TAB>ADDRESS<TAB>FPR` (normalized address) or `k<TAB>KEY<TAB>FPR` (any
/// (sub)key's fingerprint or key ID, uppercase hex), FPR being the primary
/// fingerprint.
struct Index {
    tag: u64,
    entries: String,
}

impl Index {
    fn empty(tag: u64) -> Index {
        Index {
            tag,
            entries: String::from("\n"),
        }
    }

    fn add(&mut self, cert: &Cert) {
        let primary = cert.fingerprint().to_hex();
        for address in addresses(cert) {
            self.entries.push_str(&format!("a\t{address}\t{primary}\n"));
        }
        for key in cert.keys() {
            let key = key.key();
            self.entries
                .push_str(&format!("k\t{}\t{primary}\n", key.fingerprint().to_hex()));
            self.entries
                .push_str(&format!("k\t{}\t{primary}\n", key.keyid().to_hex()));
        }
    }

    fn remove(&mut self, primary: &str) {
        let suffix = format!("\t{primary}");
        let mut kept = String::with_capacity(self.entries.len());
        kept.push('\n');
        for line in self.entries.lines() {
            if !line.is_empty() && !line.ends_with(&suffix) {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        self.entries = kept;
    }

    /// The primary fingerprints recorded for `kind` (`a` or `k`) and `key`.
    fn lookup(&self, kind: char, key: &str) -> Vec<String> {
        let needle = format!("\n{kind}\t{key}\t");
        let mut found: Vec<String> = memchr::memmem::find_iter(self.entries.as_bytes(), &needle)
            .filter_map(|at| {
                let rest = &self.entries[at + needle.len()..];
                rest.split('\n').next().map(str::to_string)
            })
            .collect();
        found.dedup();
        found
    }

    fn load(path: &Path, tag: u64) -> Option<Index> {
        let mut text = fs::read_to_string(path).ok()?;
        let end = text.find('\n')?;
        let stored_tag: u64 = text[..end]
            .strip_prefix(INDEX_HEADER)?
            .trim()
            .parse()
            .ok()?;
        // The entries keep the header's line break as their first byte,
        // without copying them (the index of a large store is megabytes).
        text.drain(..end);
        (stored_tag == tag).then_some(Index { tag, entries: text })
    }

    fn save(&self, path: &Path) -> Result<()> {
        let text = format!("{INDEX_HEADER} {}{}", self.tag, self.entries);
        write_private_file(path, text.as_bytes())
    }
}

impl CertStore {
    /// Opens (creating if needed) the store in `dir`, with its index in
    /// `index_file`.
    pub fn open(dir: &Path, index_file: &Path) -> Result<CertStore> {
        create_private_dir(dir)?;
        // openpgp-cert-d only lists certificates under an absolute base.
        let dir = &std::path::absolute(dir)
            .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        let certd = CertD::with_base_dir(dir).map_err(|e| Error::Home {
            path: dir.to_path_buf(),
            reason: format!("not a certificate directory: {e}"),
        })?;
        let tag = certd.tag().0;
        let mut store = CertStore {
            certd,
            index_file: index_file.to_path_buf(),
            index: Index::empty(tag),
        };
        store.index = match Index::load(index_file, tag) {
            Some(index) => index,
            None => store.rebuild_index(tag)?,
        };
        Ok(store)
    }

    fn rebuild_index(&self, tag: u64) -> Result<Index> {
        let mut index = Index::empty(tag);
        for cert in self.all()? {
            index.add(&cert);
        }
        // A read-only home still works; it only rebuilds the index each time.
        let _ = index.save(&self.index_file);
        Ok(index)
    }

    /// Adds or merges `cert` (secret key material is stripped). Call
    /// [`CertStore::save_index`] when done changing the store.
    ///
    /// A certificate that would newly bind an address which another stored
    /// certificate binds is refused ([`Error::AddressConflict`]): a new
    /// user ID for someone else's address is how a key gets passed off as
    /// theirs.
    pub fn insert(&mut self, cert: &Cert) -> Result<ImportOutcome> {
        let public = cert.clone().strip_secret_key_material();
        self.check_conflicts(&public)?;
        let fpr = public.fingerprint().to_hex().to_lowercase();
        let data = public.to_vec().map_err(Error::OpenPgp)?;
        let mut outcome = ImportOutcome::New;
        let (_, merged) = self
            .certd
            .insert(&fpr, data, true, |new, old| {
                let Some(old) = old else {
                    return Ok(MergeResult::Data(new));
                };
                let old_cert = Cert::from_bytes(old)?;
                let merged = old_cert.merge_public(public.clone())?.to_vec()?;
                outcome = if merged == old {
                    ImportOutcome::Unchanged
                } else {
                    ImportOutcome::Updated
                };
                Ok(MergeResult::Data(merged))
            })
            .map_err(|e| Error::io("writing the certificate store", std::io::Error::other(e)))?;
        if let Some(merged) = merged.filter(|_| outcome != ImportOutcome::Unchanged) {
            let merged = Cert::from_bytes(&merged).map_err(Error::OpenPgp)?;
            if outcome == ImportOutcome::Updated {
                self.index.remove(&merged.fingerprint().to_hex());
            }
            self.index.add(&merged);
        }
        Ok(outcome)
    }

    /// Refuses `cert` when it (merged with its stored version) binds an
    /// address that the stored version does not and another stored
    /// certificate does.
    fn check_conflicts(&self, cert: &Cert) -> Result<()> {
        let fpr = cert.fingerprint();
        let stored = self.get(&fpr.to_hex())?;
        let before = stored.as_ref().map(addresses).unwrap_or_default();
        let after = match stored {
            Some(old) => addresses(&old.merge_public(cert.clone()).map_err(Error::OpenPgp)?),
            None => addresses(cert),
        };
        for address in after.iter().filter(|a| !before.contains(a)) {
            for other in self.by_address(address)? {
                if other.fingerprint() != fpr && addresses(&other).contains(address) {
                    return Err(Error::AddressConflict {
                        address: address.clone(),
                        stored: other.fingerprint().to_hex(),
                        found: fpr.to_hex(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes the index, valid for the directory as it is now.
    pub fn save_index(&mut self) -> Result<()> {
        self.index.tag = self.certd.tag().0;
        self.index.save(&self.index_file)
    }

    /// Removes `cert`. Call [`CertStore::save_index`] when done.
    pub fn remove(&mut self, cert: &Cert) -> Result<()> {
        let fpr = cert.fingerprint().to_hex();
        let path = self
            .certd
            .get_path_by_fingerprint(&fpr)
            .map_err(|e| Error::NotFound(format!("{fpr}: {e}")))?;
        fs::remove_file(&path).map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        self.index.remove(&fpr);
        Ok(())
    }

    /// The certificate with primary fingerprint `fpr` (hex).
    pub fn get(&self, fpr: &str) -> Result<Option<Cert>> {
        let found = self
            .certd
            .get(&fpr.to_lowercase())
            .map_err(|e| Error::io("reading the certificate store", std::io::Error::other(e)))?;
        match found {
            Some((_, data)) => Ok(Some(Cert::from_bytes(&data).map_err(Error::OpenPgp)?)),
            None => Ok(None),
        }
    }

    /// Certificates with a user ID for `address` (not yet validated).
    pub fn by_address(&self, address: &str) -> Result<Vec<Cert>> {
        let fprs = self.index.lookup('a', &super::normalize_address(address));
        fprs.iter()
            .filter_map(|f| self.get(f).transpose())
            .collect()
    }

    /// The certificate containing the (sub)key `handle`.
    pub fn by_key_handle(&self, handle: &KeyHandle) -> Result<Option<Cert>> {
        let key = match handle {
            KeyHandle::Fingerprint(f) => f.to_hex(),
            KeyHandle::KeyID(k) => k.to_hex(),
        };
        match self.index.lookup('k', &key).first() {
            Some(fpr) => self.get(fpr),
            None => Ok(None),
        }
    }

    /// Every certificate in the store.
    pub fn all(&self) -> Result<Vec<Cert>> {
        let mut certs = Vec::new();
        for item in self.certd.iter() {
            let (_, _, data) = item.map_err(|e| {
                Error::io("reading the certificate store", std::io::Error::other(e))
            })?;
            if let Ok(cert) = Cert::from_bytes(&data) {
                certs.push(cert);
            }
        }
        Ok(certs)
    }

    /// Certificates matching `query`: a fingerprint, a key ID or an address.
    pub fn find(&self, query: &str) -> Result<Vec<Cert>> {
        if query.contains('@') {
            return self.by_address(query);
        }
        let handle: KeyHandle = query.parse().map_err(|_| {
            Error::Usage(format!(
                "{query:?} is neither an address, a fingerprint nor a key ID"
            ))
        })?;
        Ok(self.by_key_handle(&handle)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use sequoia_openpgp::cert::CertBuilder;
    use sequoia_openpgp::packet::UserID;

    use super::*;

    fn cert(address: &str) -> Cert {
        CertBuilder::general_purpose(Some(address))
            .generate()
            .unwrap()
            .0
    }

    #[test]
    fn a_bare_user_id_is_kept_by_sequoia_but_binds_nothing() {
        let eve = cert("eve@example.org")
            .insert_packets(UserID::from("Alice <alice@example.org>"))
            .unwrap()
            .0;
        // sequoia keeps the unsigned user ID in the certificate ...
        assert!(eve
            .userids()
            .any(|u| u.userid().value() == b"Alice <alice@example.org>"));
        // ... so only the validly bound ones may count.
        assert_eq!(addresses(&eve), vec!["eve@example.org".to_string()]);
    }

    #[test]
    fn claiming_a_stored_address_is_refused_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CertStore::open(&dir.path().join("d"), &dir.path().join("i")).unwrap();
        let alice = cert("alice@example.org");
        let eve = cert("eve@example.org");
        assert_eq!(store.insert(&alice).unwrap(), ImportOutcome::New);
        assert_eq!(store.insert(&eve).unwrap(), ImportOutcome::New);
        let mut signer = eve
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap();
        let claim = UserID::from("alice@example.org");
        let binding = claim
            .bind(
                &mut signer,
                &eve,
                sequoia_openpgp::packet::signature::SignatureBuilder::new(
                    sequoia_openpgp::types::SignatureType::PositiveCertification,
                ),
            )
            .unwrap();
        let eve_claims = eve
            .clone()
            .insert_packets(vec![sequoia_openpgp::Packet::from(claim), binding.into()])
            .unwrap()
            .0;
        let err = store.insert(&eve_claims).unwrap_err();
        assert_eq!(err.exit_code(), 77);
        assert!(
            matches!(&err, Error::AddressConflict { address, .. } if address == "alice@example.org")
        );
        let stored = store.get(&eve.fingerprint().to_hex()).unwrap().unwrap();
        assert_eq!(addresses(&stored), vec!["eve@example.org".to_string()]);
        // Updates that claim nothing new still merge.
        assert_eq!(store.insert(&eve).unwrap(), ImportOutcome::Unchanged);
    }
}
