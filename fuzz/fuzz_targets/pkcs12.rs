//! PKCS#12 import (`key import FILE.p12`), with the corpus's password.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mailseal::smime::pkcs12::parse(data, "fuzz");
});
