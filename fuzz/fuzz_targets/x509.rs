//! X.509 certificates and keys as read by `cert import`, `key import` and
//! SMIMEA: PEM and DER, addresses, public keys, validity, the recipient
//! checks of discovery, SPKI extraction and SMIMEA matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::discover::x509::{check_recipient_cert, spki_der};
use mailseal::discover::SmimeaRecord;
use mailseal::smime::certs::{looks_like_x509, parse_certs, OwnKey};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_x509(data);
    if let Ok(certs) = parse_certs(data) {
        for cert in certs {
            let _ = (
                cert.fingerprint(),
                cert.addresses(),
                cert.subject(),
                cert.issuer(),
            );
            let _ = (cert.public_key(), cert.validity(), cert.to_pem());
            let _ = cert.issuer_and_serial();
        }
    }
    let _ = OwnKey::parse(data);
    let _ = check_recipient_cert(data, "alice@example.org");
    let _ = spki_der(data);
    for selector in 0..2 {
        let record = SmimeaRecord {
            usage: 3,
            selector,
            matching: 0,
            data: data.to_vec(),
        };
        let _ = record.matches(data);
    }
});
