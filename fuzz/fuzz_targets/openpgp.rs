//! PGP/MIME framing and the OpenPGP decrypt and verify paths, with Alice's
//! secret key (so that decryption is reached) and Bob's certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::message::canon;
use mailseal::openpgp::{decrypt_message, pgpmime, verify_message};

fuzz_target!(|data: &[u8]| {
    let _ = pgpmime::parse(&canon::to_crlf(data));
    mailseal_fuzz::with_openpgp_keys(|keys| {
        if let Ok(opened) = decrypt_message(data, keys) {
            for report in &opened.signatures {
                let _ = report.describe();
            }
        }
        if let Ok(reports) = verify_message(data, keys) {
            for report in &reports {
                let _ = report.describe();
            }
        }
    });
});
