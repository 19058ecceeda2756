//! The S/MIME open path: application/pkcs7-mime and multipart/signed
//! framing, transfer decoding, decryption (Alice's RSA key, Carol's P-256
//! key) and signature checks against the fuzz CA.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::smime::{framing, open_message};

fuzz_target!(|data: &[u8]| {
    let _ = framing::is_smime(data);
    mailseal_fuzz::with_smime_keys(|own, keyring| {
        let _ = open_message(data, own, keyring);
    });
});
