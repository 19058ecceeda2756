//! The streaming open paths on arbitrary input, with Alice's secret key:
//! `decrypt_stream` (PGP/MIME and inline PGP through the reading thread
//! and the whole-body armor check), the inline and clear-signed streaming
//! verifiers, and the search of a plaintext too large to hold
//! (`spilled_verification` over `message::walk`).
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use mailseal::message::header::split_entity;
use mailseal::message::{canon, Headers};
use mailseal::openpgp::{signed_stream, stream, OpenOptions};
use mailseal::spill::Spill;

fuzz_target!(|data: &[u8]| {
    // A small plaintext limit keeps each input fast.
    let options = OpenOptions {
        max_decompressed: Some(1 << 20),
        allow_legacy: true,
    };
    let size = Some(data.len() as u64);
    mailseal_fuzz::with_openpgp_keys(|keys| {
        let _ = stream::decrypt_stream(data, size, keys, options, mailseal_fuzz::scratch());
        let _ = signed_stream::verify_inline(data, size, keys, options);
        let _ = signed_stream::verify_clearsigned(&mut Cursor::new(data), keys);
        let (header_bytes, body) = split_entity(data);
        let Ok(headers) = Headers::parse(&canon::to_crlf(header_bytes)) else {
            return;
        };
        let _ = stream::Kind::of(&headers, body);
        let mut spill = Spill::new(mailseal_fuzz::scratch());
        if spill.write_all(data).and_then(|()| spill.finish()).is_ok() {
            let start = (data.len() - body.len()) as u64;
            let _ = stream::spilled_verification(
                Vec::new(),
                None,
                &mut spill,
                (&headers, start..data.len() as u64),
                keys,
                options,
            );
        }
    });
});
