//! The key each recipient's last sealed copy was encrypted to, so that a
//! key that changed since can be pointed out (`status`, `send`, the
//! agent). A JSON map from the normalized address to the fingerprint (or
//! S/MIME certificate SHA-256), 0600 in the data directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::normalize_address;
use crate::home::write_private_file;
use crate::Result;

/// Serializes the read-modify-write of the file within one process (the
/// agent seals on several threads).
static WRITING: Mutex<()> = Mutex::new(());

/// The remembered keys, by normalized address.
#[derive(Debug, Default, Clone)]
pub struct LastUsed(BTreeMap<String, String>);

impl LastUsed {
    /// Loads `path`; a missing or unreadable file remembers nothing.
    pub fn load(path: &Path) -> LastUsed {
        LastUsed(
            std::fs::read(path)
                .ok()
                .and_then(|data| serde_json::from_slice(&data).ok())
                .unwrap_or_default(),
        )
    }

    /// The key the last copy to `address` was encrypted to.
    pub fn get(&self, address: &str) -> Option<&str> {
        self.0.get(&normalize_address(address)).map(String::as_str)
    }
}

/// Remembers `(address, fingerprint)` pairs in the file at `path`.
pub fn record<'a>(path: &Path, used: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let mut known = LastUsed::load(path);
    let mut changed = false;
    for (address, fingerprint) in used {
        let previous = known
            .0
            .insert(normalize_address(address), fingerprint.to_string());
        changed |= previous.as_deref() != Some(fingerprint);
    }
    if !changed {
        return Ok(());
    }
    let text = serde_json::to_vec_pretty(&known.0).expect("serializable");
    write_private_file(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_key_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipient-keys.json");
        assert_eq!(LastUsed::load(&path).get("bob@x"), None);
        record(&path, [("Bob@X", "AAAA")]).unwrap();
        assert_eq!(LastUsed::load(&path).get("bob@x"), Some("AAAA"));
        record(&path, [("bob@x", "BBBB"), ("carol@y", "CCCC")]).unwrap();
        let known = LastUsed::load(&path);
        assert_eq!(known.get("BOB@x"), Some("BBBB"));
        assert_eq!(known.get("carol@y"), Some("CCCC"));
    }
}
