//! DNS responses for DANE: the wire format (hickory), OPENPGPKEY
//! certificates and SMIMEA records as discovery handles them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mailseal::fuzzing::dns_response(data, "alice@example.org");
});
