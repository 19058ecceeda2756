//! DKIM (RFC 6376): public keys at `SELECTOR._domainkey.DOMAIN` for the
//! configured selectors (else a few common ones), with their type and
//! size.

use base64::Engine as _;
use serde::Serialize;

use super::check::{Line, Status};
use super::txt;
use crate::discover::dns::Resolver;

/// What DKIM protects against.
pub const PROTECTS_AGAINST: &str =
    "changes to your mail in transit, and (with DMARC) forged From headers";

/// Selectors tried when `[domain] dkim_selectors` is empty.
pub const COMMON_SELECTORS: &[&str] = &[
    "default",
    "selector1",
    "selector2",
    "google",
    "k1",
    "mail",
    "dkim",
    "s1",
    "s2",
];

/// One key record found.
#[derive(Debug, Clone, Serialize)]
pub struct DkimKey {
    pub selector: String,
    /// `SELECTOR._domainkey.DOMAIN`.
    pub name: String,
    pub record: String,
    /// `rsa`, `ed25519` or what `k=` says.
    pub key_type: String,
    /// The key size in bits, when the key could be read.
    pub bits: Option<u32>,
    /// `p=` is empty: the key was revoked.
    pub revoked: bool,
    pub error: Option<String>,
}

/// The DKIM check.
#[derive(Debug, Clone, Serialize)]
pub struct DkimCheck {
    pub status: Status,
    pub selectors_tried: Vec<String>,
    pub keys: Vec<DkimKey>,
    pub error: Option<String>,
    pub protects_against: &'static str,
    pub fix: Option<String>,
}

/// Reads one key record: (key type, bits, revoked).
pub fn parse(record: &str) -> Result<(String, Option<u32>, bool), String> {
    let tags = txt::tags(record)?;
    if let Some(v) = txt::tag(&tags, "v") {
        if v != "DKIM1" || tags[0].0 != "v" {
            return Err(format!("v={v} is not DKIM1 as the first tag"));
        }
    }
    let key_type = txt::tag(&tags, "k").unwrap_or("rsa").to_ascii_lowercase();
    let p: String = txt::tag(&tags, "p")
        .ok_or("the record has no p= key")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if p.is_empty() {
        return Ok((key_type, None, true));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(&p)
        .map_err(|e| format!("p= is not base64: {e}"))?;
    let bits = match key_type.as_str() {
        "rsa" => Some(rsa_bits(&der)?),
        "ed25519" if der.len() == 32 => Some(256),
        "ed25519" => return Err(format!("an Ed25519 key is 32 bytes, not {}", der.len())),
        _ => None,
    };
    Ok((key_type, bits, false))
}

/// The modulus size of an RSA key given as SubjectPublicKeyInfo (or, as
/// some publish it, a bare PKCS#1 RSAPublicKey). Read from the ASN.1
/// alone: the `rsa` crate refuses keys under 1024 bits, which are exactly
/// the ones to report.
fn rsa_bits(der: &[u8]) -> Result<u32, String> {
    use der::Decode;
    let pkcs1 = match spki::SubjectPublicKeyInfoRef::from_der(der) {
        Ok(info) => info.subject_public_key.raw_bytes(),
        Err(_) => der,
    };
    let key = rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(pkcs1)
        .map_err(|e| format!("p= is not an RSA public key: {e}"))?;
    let modulus = key.modulus.as_bytes();
    let n = &modulus[modulus.iter().take_while(|b| **b == 0).count()..];
    Ok(n.first().map_or(0, |first| {
        (n.len() as u32 - 1) * 8 + (8 - first.leading_zeros())
    }))
}

/// Looks up `selectors` (or the common ones) under `domain`.
pub async fn check(resolver: &Resolver, domain: &str, selectors: &[String]) -> DkimCheck {
    let configured = !selectors.is_empty();
    let selectors: Vec<String> = if configured {
        selectors.to_vec()
    } else {
        COMMON_SELECTORS.iter().map(|s| s.to_string()).collect()
    };
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for selector in &selectors {
        let name = format!("{selector}._domainkey.{domain}");
        let records = match txt::lookup(resolver, &name).await {
            Ok(records) => records,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        for record in records {
            let (key_type, bits, revoked, error) = match parse(&record) {
                Ok((t, b, r)) => (t, b, r, None),
                Err(e) => (String::new(), None, false, Some(e)),
            };
            keys.push(DkimKey {
                selector: selector.clone(),
                name: name.clone(),
                record,
                key_type,
                bits,
                revoked,
                error,
            });
        }
    }
    let usable: Vec<&DkimKey> = keys
        .iter()
        .filter(|k| !k.revoked && k.error.is_none())
        .collect();
    let weakest = usable
        .iter()
        .filter(|k| k.key_type == "rsa")
        .filter_map(|k| k.bits)
        .min();
    let where_ = if configured {
        "check [domain] dkim_selectors".to_string()
    } else {
        "name your selectors in [domain] dkim_selectors (only common ones were tried)".to_string()
    };
    let (status, fix) = if !errors.is_empty() && keys.is_empty() {
        (Status::Error, None)
    } else if usable.is_empty() && keys.iter().any(|k| k.error.is_some()) {
        (
            Status::Invalid,
            Some("publish v=DKIM1; k=rsa; p=BASE64-SPKI (or k=ed25519)".to_string()),
        )
    } else if usable.is_empty() {
        (
            Status::Missing,
            Some(format!(
                "sign outgoing mail with DKIM and publish the key at SELECTOR._domainkey.{domain}, or {where_}"
            )),
        )
    } else if weakest.is_some_and(|bits| bits < 1024) {
        (
            Status::Invalid,
            Some("receivers ignore RSA keys under 1024 bits: use 2048".to_string()),
        )
    } else if weakest.is_some_and(|bits| bits < 2048) {
        (
            Status::Weak,
            Some("use an RSA key of 2048 bits".to_string()),
        )
    } else {
        (Status::Ok, None)
    };
    DkimCheck {
        status,
        selectors_tried: selectors,
        keys,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        protects_against: PROTECTS_AGAINST,
        fix,
    }
}

impl DkimCheck {
    /// The human line.
    pub fn line(&self) -> Line {
        let text = if self.keys.is_empty() {
            match &self.error {
                Some(e) => e.clone(),
                None => format!("no key at selectors {}", self.selectors_tried.join(", ")),
            }
        } else {
            self.keys
                .iter()
                .map(|k| {
                    let what = match (&k.error, k.revoked, k.bits) {
                        (Some(e), _, _) => format!("invalid ({e})"),
                        (None, true, _) => "revoked".to_string(),
                        (None, false, Some(bits)) => format!("{} {bits} bits", k.key_type),
                        (None, false, None) => k.key_type.clone(),
                    };
                    format!("{}: {what}", k.selector)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Line {
            status: self.status,
            check: "DKIM",
            text,
            fix: self.fix.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        assert_eq!(
            parse("v=DKIM1; k=rsa; p=").unwrap(),
            ("rsa".to_string(), None, true)
        );
        let ed = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(
            parse(&format!("v=DKIM1; k=ed25519; p={ed}")).unwrap(),
            ("ed25519".to_string(), Some(256), false)
        );
        assert!(parse("v=DKIM1; k=rsa").is_err());
        assert!(parse("v=DKIM1; p=!!!").is_err());
        assert!(parse("k=rsa; v=DKIM1; p=").is_err());
    }
}
