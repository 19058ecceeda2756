//! PKCS#12 (.p12/.pfx) files, the way CAs hand out S/MIME keys, read with
//! `p12-keystore` (OpenSSL 3 default PBES2/AES and `-legacy` RC2/3DES),
//! after checking that no key derivation asks for more than
//! [`MAX_ITERATIONS`] iterations (the file says how many; 2^31 would keep
//! `key import` busy for many minutes).

use super::certs::{OwnKey, SmimeCert};
use crate::{Error, Result};

/// The most key-derivation iterations a PKCS#12 file may ask for. OpenSSL
/// writes 2,048 by default, Windows 2,000 to 10,000; 10 million costs a few
/// seconds.
pub const MAX_ITERATIONS: u64 = 10_000_000;

/// PBKDF2 (PKCS#5 v2, inside PBES2).
const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
/// pkcs-12PbeIds (1.2.840.113549.1.12.1), the prefix of the PKCS#12 PBEs.
const PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// One DER element: (tag, content, rest).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The elements of a DER content, if it is a complete series of them.
fn children(mut data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tag, content, rest) = tlv(data)?;
        out.push((tag, content));
        data = rest;
    }
    Some(out)
}

/// An INTEGER's value, saturating (more than 8 bytes is over any cap).
fn integer(content: &[u8]) -> u64 {
    let digits: &[u8] = match content.iter().position(|b| *b != 0) {
        Some(start) => &content[start..],
        None => return 0,
    };
    if digits.len() > 8 {
        return u64::MAX;
    }
    digits.iter().fold(0u64, |a, b| (a << 8) | *b as u64)
}

/// The largest iteration count in the parameters visible in `data` (an
/// element's content): PBKDF2-params, PKCS#12 PBE parameters, and DER
/// nested in OCTET STRINGs (the authenticated safe and its bags).
fn max_iterations(data: &[u8], depth: usize) -> u64 {
    let Some(elements) = children(data) else {
        return 0;
    };
    let mut max = 0;
    if let [(0x06, algorithm), (0x30, params), ..] = elements.as_slice() {
        let fields = children(params).unwrap_or_default();
        let count = if *algorithm == PBKDF2 {
            // PBKDF2-params: salt, iterationCount, ...
            fields.get(1).filter(|(t, _)| *t == 0x02)
        } else if algorithm.starts_with(PKCS12_PBE) {
            // pkcs-12PbeParams: salt, iterations
            fields.get(1).filter(|(t, _)| *t == 0x02)
        } else {
            None
        };
        if let Some((_, value)) = count {
            max = integer(value);
        }
    }
    if depth >= 16 {
        return max;
    }
    for (tag, content) in elements {
        if tag & 0x20 != 0 || tag == 0x04 {
            max = max.max(max_iterations(content, depth + 1));
        }
    }
    max
}

/// Refuses a file that asks for more than [`MAX_ITERATIONS`] iterations
/// in its MAC or in any key derivation visible before decryption.
fn check_iterations(data: &[u8]) -> Result<()> {
    let Some((0x30, pfx, _)) = tlv(data) else {
        return Ok(());
    };
    let mut most = max_iterations(pfx, 0);
    // MacData: DigestInfo, macSalt, iterations (the PFX's third element).
    if let Some(mac) = children(pfx).and_then(|c| c.get(2).copied()) {
        if let Some([_, _, (0x02, value)]) = children(mac.1).as_deref() {
            most = most.max(integer(value));
        }
    }
    if most > MAX_ITERATIONS {
        return Err(Error::Unsupported {
            what: format!(
                "the PKCS#12 file asks for {} key-derivation iterations; mailseal reads at most {MAX_ITERATIONS} (more would keep it busy for minutes)",
                if most == u64::MAX { "more than 2^64".to_string() } else { most.to_string() }
            ),
            hint: "export the key again with the default count, e.g. `openssl pkcs12 -export -iter 2048 -inkey KEY -in CERT -out new.p12`".into(),
        });
    }
    Ok(())
}

/// The private key and every certificate in a PKCS#12 file.
pub fn parse(data: &[u8], password: &str) -> Result<(OwnKey, Vec<SmimeCert>)> {
    check_iterations(data)?;
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| match e {
        p12_keystore::error::Error::MacError(_) | p12_keystore::error::Error::UnpadError => {
            Error::Passphrase {
                fingerprint: "PKCS#12 file".into(),
                reason: "wrong password (the file's integrity check failed)".into(),
            }
        }
        other => Error::Malformed(format!("cannot read the PKCS#12 file: {other}")),
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| Error::Malformed("the PKCS#12 file holds no private key".into()))?;
    let key = OwnKey::parse(chain.key())?;
    let mut certs = chain
        .chain()
        .iter()
        .map(|c| SmimeCert::from_der(c.as_der()))
        .collect::<Result<Vec<_>>>()?;
    for (_, entry) in store.entries() {
        if let p12_keystore::KeyStoreEntry::Certificate(c) = entry {
            let cert = SmimeCert::from_der(c.as_der())?;
            if !certs.iter().any(|x| x.der == cert.der) {
                certs.push(cert);
            }
        }
    }
    Ok((key, certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_iterations_are_found_inside_pbes2_parameters() {
        // AlgorithmIdentifier { PBKDF2, { salt, 20,000,000 } } inside a
        // SEQUENCE inside an OCTET STRING.
        let mut pbkdf2 = vec![0x06, 0x09];
        pbkdf2.extend_from_slice(PBKDF2);
        pbkdf2.extend_from_slice(&[0x30, 0x10, 0x04, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
        pbkdf2.extend_from_slice(&[0x02, 0x04, 0x01, 0x31, 0x2d, 0x00]);
        let mut algorithm = vec![0x30, pbkdf2.len() as u8];
        algorithm.extend(pbkdf2);
        let mut wrapped = vec![0x04, algorithm.len() as u8 + 2, 0x30, algorithm.len() as u8];
        wrapped.extend(algorithm);
        assert_eq!(max_iterations(&wrapped, 0), 20_000_000);
        let mut pfx = vec![0x30, wrapped.len() as u8];
        pfx.extend(wrapped);
        assert!(matches!(
            check_iterations(&pfx),
            Err(Error::Unsupported { what, .. }) if what.contains("20000000")
        ));
    }
}
