//! The submission client's SMTP reply reader (src/submit/reply.rs): a
//! relay's byte stream, read reply after reply.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailseal::fuzzing::smtp_replies(data);
});
