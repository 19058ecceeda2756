//! The CMS/BER reader without MIME around it: ContentInfo, SignedData
//! (BER, indefinite lengths), EnvelopedData and AuthEnvelopedData with
//! their RecipientInfos, decrypted with the fuzz identities.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailseal::smime::envelope::{decrypt_cms, parse_content_info};
use mailseal::smime::oid;
use mailseal::smime::sign::parse_signed_data;

fuzz_target!(|data: &[u8]| {
    let _ = parse_signed_data(data);
    let Ok((content_type, content)) = parse_content_info(data) else {
        return;
    };
    if content_type == oid::SIGNED_DATA {
        let _ = parse_signed_data(data);
        return;
    }
    mailseal_fuzz::with_smime_keys(|own, _| {
        let _ = decrypt_cms(content_type, content, own);
    });
});
