//! What the fuzz targets share: the test keys, so that decryption and
//! signature checks are reached, and a scratch directory for stores.
//!
//! The keys are test material only: OpenPGP Alice (secret key) and Bob
//! (certificate) from `testdata/keys`, and a small S/MIME PKI in `keys/`
//! (a P-256 CA, Alice with RSA-2048, Carol with P-256).

use std::path::Path;
use std::sync::OnceLock;

use mailseal::keys::passphrase::Unlocker;
use mailseal::keys::{parse_certs, CertStore};
use mailseal::openpgp::verify::Keys;
use mailseal::smime::certs::{self, OwnIdentity, OwnKey, SmimeCert};
use mailseal::smime::plan::Keyring;
use sequoia_openpgp::Cert;

/// A directory that lives as long as the process.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
        .path()
}

struct OpenPgp {
    store: CertStore,
    own: Vec<Cert>,
    unlocker: Unlocker,
}

/// Runs `f` with Alice's secret key as the own key and Bob's certificate
/// in the store.
pub fn with_openpgp_keys<T>(f: impl FnOnce(&Keys) -> T) -> T {
    static KEYS: OnceLock<OpenPgp> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let dir = scratch().join("openpgp");
        let mut store =
            CertStore::open(&dir.join("certs"), &dir.join("cert-index")).expect("cert store");
        for cert in parse_certs(include_bytes!("../../testdata/keys/bob.pub.asc")).unwrap() {
            store.insert(&cert).expect("Bob's certificate is stored");
        }
        OpenPgp {
            store,
            own: parse_certs(include_bytes!("../../testdata/keys/alice.sec.asc")).unwrap(),
            unlocker: Unlocker::default(),
        }
    });
    f(&Keys {
        store: &keys.store,
        own: &keys.own,
        unlocker: &keys.unlocker,
    })
}

struct Smime {
    store: mailseal::keys::smime::CertStore,
    own: Vec<OwnIdentity>,
    anchors: Vec<SmimeCert>,
}

fn identity(key: &[u8], cert: &[u8]) -> OwnIdentity {
    OwnIdentity {
        key: OwnKey::parse(key).expect("test key"),
        cert: certs::parse_certs(cert)
            .expect("test certificate")
            .remove(0),
        chain: Vec::new(),
    }
}

/// Runs `f` with Alice (RSA) and Carol (P-256) as own S/MIME identities
/// and the fuzz CA as the trust anchor.
pub fn with_smime_keys<T>(f: impl FnOnce(&[OwnIdentity], &Keyring) -> T) -> T {
    static KEYS: OnceLock<Smime> = OnceLock::new();
    let keys = KEYS.get_or_init(|| Smime {
        store: mailseal::keys::smime::CertStore::new(&scratch().join("smime-certs")),
        own: vec![
            identity(
                include_bytes!("../keys/alice.key"),
                include_bytes!("../keys/alice.crt"),
            ),
            identity(
                include_bytes!("../keys/carol.key"),
                include_bytes!("../keys/carol.crt"),
            ),
        ],
        anchors: certs::parse_certs(include_bytes!("../keys/ca.crt")).expect("CA certificate"),
    });
    f(
        &keys.own,
        &Keyring {
            store: &keys.store,
            own: &keys.own,
            anchors: &keys.anchors,
        },
    )
}
