//! PGP/MIME framing and the OpenPGP decrypt and verify paths, with Alice's
//! secret key (so that decryption is reached) and Bob's certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::message::canon;
use mailseal::openpgp::{decrypt_message, pgpmime, verify_message, OpenOptions};

fuzz_target!(|data: &[u8]| {
    let _ = pgpmime::parse(&canon::to_crlf(data));
    // A small plaintext limit keeps each input fast; the limit itself is
    // what a compression bomb must hit.
    let options = || OpenOptions {
        max_decompressed: Some(1 << 20),
        allow_legacy: true,
    };
    mailseal_fuzz::with_openpgp_keys(|keys| {
        if let Ok(opened) = decrypt_message(data, keys, options()) {
            for report in &opened.verification.signatures {
                let _ = report.describe();
            }
        }
        if let Ok(verification) = verify_message(data, keys, options()) {
            for report in &verification.signatures {
                let _ = report.describe();
            }
        }
    });
});
