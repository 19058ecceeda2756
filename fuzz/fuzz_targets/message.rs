//! RFC 5322 header parser and MIME splitter: header fields, addresses,
//! Content-Type parameters, multipart bodies (walked to a bounded depth
//! here), protected-header restore, and header reading from a stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::message::header::{read_headers, split_entity};
use mailseal::message::{mime, protect, Headers};

/// How deep the harness itself walks nested multiparts.
const DEPTH: usize = 32;

fn walk(entity: &[u8], outer: &Headers, depth: usize) {
    let (header_bytes, body) = split_entity(entity);
    let Ok(headers) = Headers::parse(header_bytes) else {
        return;
    };
    for field in headers.fields() {
        let _ = (field.name(), field.value());
    }
    for name in ["From", "Sender", "To", "Cc", "Bcc", "Reply-To"] {
        let _ = headers.addresses(name);
    }
    let _ = protect::restore(outer, &headers);
    let _ = protect::for_encryption(&headers, true);
    let _ = protect::for_signing(&headers, true);
    let content_type = headers.content_type();
    if depth == 0 || !content_type.is_multipart() {
        if content_type.mime == "message/rfc822" && depth > 0 {
            walk(body, &headers, depth - 1);
        }
        return;
    }
    let Some(boundary) = content_type.param("boundary") else {
        return;
    };
    if let Ok(multipart) = mime::split(body, boundary) {
        for part in multipart.parts {
            walk(part, &headers, depth - 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, &Headers::default(), DEPTH);
    let _ = read_headers(&mut &data[..]);
});
