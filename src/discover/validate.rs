//! Validation shared by every method: reading certificates from an
//! untrusted response, keeping only what is bound to the address looked
//! up, and choosing the newest certificate that can receive mail now.

use sequoia_openpgp::cert::{Cert, CertParser};
use sequoia_openpgp::parse::Parse;

use crate::keys::normalize_address;
use crate::{openpgp, Error};

/// At most this many certificates are read from one response.
pub const MAX_CERTS: usize = 32;

/// Parses up to [`MAX_CERTS`] certificates from a response body; garbage,
/// truncated data and empty bodies are errors, never panics.
pub fn parse_certs(data: &[u8]) -> std::result::Result<Vec<Cert>, String> {
    if data.is_empty() {
        return Err("the response is empty".into());
    }
    let parser = CertParser::from_bytes(data).map_err(|e| format!("not OpenPGP data: {e}"))?;
    let mut certs = Vec::new();
    let mut first_error = None;
    for item in parser.take(MAX_CERTS) {
        match item {
            Ok(cert) => certs.push(cert),
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "no OpenPGP certificate in the response{}",
            first_error.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    Ok(certs)
}

/// Keeps only `cert`'s user IDs for `address`: a source vouches for the
/// address it was asked about and nothing else.
fn only_address(cert: Cert, address: &str) -> Cert {
    let wanted = normalize_address(address);
    cert.retain_userids(|u| {
        crate::keys::userid_address(u.userid()).as_deref() == Some(wanted.as_str())
    })
}

/// The newest certificate among `certs` that is bound to `address` and
/// can receive encrypted mail now; else why none can.
pub fn select(address: &str, certs: Vec<Cert>) -> std::result::Result<Cert, String> {
    let mut usable = Vec::new();
    let mut reasons = Vec::new();
    for cert in certs {
        let cert = only_address(cert, address);
        let one = [cert];
        match openpgp::encryption_keys(address, &one, false) {
            Ok(_) => {
                let [cert] = one;
                usable.push(cert);
            }
            Err(Error::NoKey { reason, .. }) => reasons.push(reason),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    usable.sort_by_key(|c| std::cmp::Reverse(c.primary_key().key().creation_time()));
    usable.into_iter().next().ok_or_else(|| {
        if reasons.is_empty() {
            "no certificate in the response".into()
        } else {
            reasons.join("; ")
        }
    })
}

/// `local@domain` with a host name as the domain, so that nothing else
/// ends up in a URL or a DNS query.
pub fn plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.chars().any(|c| c.is_control() || c.is_whitespace())
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_have_a_host_name() {
        assert!(plausible_address("bob@example.org"));
        assert!(plausible_address("Bob.Smith+tag@Mail.Example.ORG"));
        for bad in [
            "bob",
            "@example.org",
            "bob@",
            "bob@localhost",
            "bob@ex ample.org",
            "bob@example.org/x",
            "bob@a..b",
            "b\nob@example.org",
        ] {
            assert!(!plausible_address(bad), "{bad}");
        }
    }

    /// Fuzz-style: garbage, truncation and size never panic and always
    /// give a reason.
    #[test]
    fn response_parser_survives_garbage() {
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next_u64();
        assert!(parse_certs(b"").is_err());
        assert!(parse_certs(b"<html>404</html>").is_err());
        assert!(parse_certs(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n").is_err());
        for len in [1usize, 2, 3, 7, 64, 1000, 65_536] {
            for _ in 0..20 {
                let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let _ = parse_certs(&data);
                // OpenPGP-looking packet tags with random bodies.
                let mut tagged = data.clone();
                tagged[0] = 0x99;
                let _ = parse_certs(&tagged);
            }
        }
        let huge = vec![0xc6u8; 2 << 20];
        assert!(parse_certs(&huge).is_err());
    }
}
