//! OpenPGP certificates from untrusted sources: WKD and VKS response
//! bodies (parse, bind to the address, select), an HKPS server's answer
//! (through sequoia-net's client, as discovery uses it), and files given
//! to `cert import`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::discover::{parse_certs, select};
use mailseal::fuzzing::hkp_response;

const ADDRESS: &str = "bob@example.net";

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = parse_certs(data) {
        let _ = select(ADDRESS, certs);
    }
    hkp_response(data, ADDRESS);
    if let Ok(certs) = mailseal::keys::parse_certs(data) {
        for cert in &certs {
            let _ = mailseal::keys::addresses(cert);
        }
    }
});
