//! Transfer decoders and encoders: what `sign` and `encrypt` do to a
//! message before signing (base64 and quoted-printable decoded and
//! re-encoded, part by part, through the library's own MIME walk), and
//! CRLF canonicalization.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use mailseal::message::{canon, transfer};

fuzz_target!(|data: &[u8]| {
    let crlf = canon::to_crlf(data);
    let mut streamed = canon::CrlfWriter::new(Vec::new());
    for chunk in data.chunks(7) {
        streamed.write_all(chunk).unwrap();
    }
    assert_eq!(
        streamed.into_inner(),
        crlf,
        "streamed and one-shot CRLF differ"
    );
    let _ = transfer::seven_bit_safe(&crlf);
});
