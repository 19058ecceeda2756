//! DANE: OPENPGPKEY (RFC 7929) and SMIMEA (RFC 8162) records at
//! `HASH._openpgpkey.DOMAIN` / `HASH._smimecert.DOMAIN`, HASH being the
//! hex of the first 28 octets of the SHA2-256 of the local part. Records
//! are used only when hickory validated them with DNSSEC from the
//! configured trust anchors.

use hickory_resolver::proto::rr::rdata::tlsa::CertUsage;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};

use super::dns::{QueryError, Resolver};
use super::{parse_certs, Fetched};

/// The owner name for `address` under `label` (`_openpgpkey` or
/// `_smimecert`).
pub fn owner_name(address: &str, label: &str) -> Result<String, String> {
    let (local, domain) = address
        .rsplit_once('@')
        .filter(|(l, d)| !l.is_empty() && !d.is_empty())
        .ok_or_else(|| format!("{address:?} is not an address"))?;
    let hash = Sha256::digest(local.as_bytes());
    let hex: String = hash[..28].iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{hex}.{label}.{}.", domain.trim_end_matches('.')))
}

/// The records of `rtype` at `name`, refused unless DNSSEC proved them.
async fn secure_records(
    resolver: &Resolver,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<RData>, String> {
    match resolver.query(name, rtype).await {
        Ok(answer) if answer.secure => Ok(answer.records),
        Ok(answer) => Err(format!(
            "{name}: refused: the {rtype} record is not DNSSEC-validated ({})",
            answer.proof
        )),
        Err(QueryError::NoRecords) => Err(format!("{name}: no {rtype} record")),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// OPENPGPKEY lookup for `address`.
pub async fn openpgpkey(resolver: &Resolver, address: &str) -> Result<Fetched, String> {
    let name = owner_name(address, "_openpgpkey")?;
    let records = secure_records(resolver, &name, RecordType::OPENPGPKEY).await?;
    openpgpkey_from(name, records)
}

/// The certificates in the OPENPGPKEY `records` found at `name`.
pub fn openpgpkey_from(name: String, records: Vec<RData>) -> Result<Fetched, String> {
    let mut certs = Vec::new();
    let mut errors = Vec::new();
    for record in records {
        if let RData::OPENPGPKEY(key) = record {
            match parse_certs(&key.public_key) {
                Ok(found) => certs.extend(found),
                Err(e) => errors.push(e),
            }
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "{name}: {}",
            if errors.is_empty() {
                "no OPENPGPKEY record".to_string()
            } else {
                errors.join("; ")
            }
        ));
    }
    Ok(Fetched {
        certs,
        source: name,
        dnssec: "secure".into(),
        verifies_address: true,
    })
}

/// One SMIMEA record, as RFC 8162 (with RFC 6698's fields) defines it.
#[derive(Debug, Clone, Serialize)]
pub struct SmimeaRecord {
    /// 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// 0 exact data, 1 SHA2-256, 2 SHA2-512.
    pub matching: u8,
    #[serde(skip)]
    pub data: Vec<u8>,
}

impl SmimeaRecord {
    /// Whether `cert_der` is the certificate this record names (selector
    /// and matching type applied).
    pub fn matches(&self, cert_der: &[u8]) -> bool {
        let selected = match self.selector {
            0 => cert_der.to_vec(),
            1 => match super::x509::spki_der(cert_der) {
                Some(spki) => spki,
                None => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data,
            1 => Sha256::digest(&selected).as_slice() == self.data.as_slice(),
            2 => Sha512::digest(&selected).as_slice() == self.data.as_slice(),
            _ => false,
        }
    }

    /// Whether the record names an end-entity certificate (usage 1 or 3)
    /// rather than a trust anchor (0 or 2).
    pub fn end_entity(&self) -> bool {
        matches!(self.usage, 1 | 3)
    }

    /// Whether the certificate must also pass PKIX path validation to the
    /// user's S/MIME trust anchors (usages 0 and 1).
    pub fn needs_pkix(&self) -> bool {
        matches!(self.usage, 0 | 1)
    }
}

/// A DNSSEC-validated SMIMEA answer for one address.
#[derive(Debug, Clone, Serialize)]
pub struct SmimeaAnswer {
    /// The DNS name asked.
    pub name: String,
    /// Every record (including hashes and trust anchors, which only check
    /// a certificate obtained elsewhere, with [`SmimeaRecord::matches`]).
    pub records: Vec<SmimeaRecord>,
    /// End-entity certificates carried in full (selector 0, matching 0,
    /// usage 1 or 3), checked to carry the address and be valid now, with
    /// whether PKIX validation is still required.
    pub certificates: Vec<SmimeaCert>,
    /// Why other records gave no certificate.
    pub skipped: Vec<String>,
}

/// A certificate from SMIMEA.
#[derive(Debug, Clone, Serialize)]
pub struct SmimeaCert {
    #[serde(skip)]
    pub der: Vec<u8>,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// Usage 1 (PKIX-EE): must also chain to an S/MIME trust anchor.
    pub needs_pkix: bool,
}

fn usage_code(u: CertUsage) -> u8 {
    u8::from(u)
}

/// SMIMEA lookup for `address`.
pub async fn smimea(resolver: &Resolver, address: &str) -> Result<SmimeaAnswer, String> {
    let name = owner_name(address, "_smimecert")?;
    let records = secure_records(resolver, &name, RecordType::SMIMEA).await?;
    Ok(smimea_from(&name, address, records))
}

/// The recipient certificates for `address` in the SMIMEA `records` found
/// at `name`.
pub fn smimea_from(name: &str, address: &str, records: Vec<RData>) -> SmimeaAnswer {
    let records: Vec<SmimeaRecord> = records
        .into_iter()
        .filter_map(|r| match r {
            RData::SMIMEA(s) => Some(SmimeaRecord {
                usage: usage_code(s.cert_usage),
                selector: u8::from(s.selector),
                matching: u8::from(s.matching),
                data: s.cert_data.clone(),
            }),
            _ => None,
        })
        .collect();
    certificates_from(name, address, records)
}

/// Applies RFC 8162 to validated records: which give a usable certificate.
pub fn certificates_from(name: &str, address: &str, records: Vec<SmimeaRecord>) -> SmimeaAnswer {
    let mut certificates = Vec::new();
    let mut skipped = Vec::new();
    for r in &records {
        let what = format!("SMIMEA {} {} {}", r.usage, r.selector, r.matching);
        if r.usage > 3 || r.selector > 1 || r.matching > 2 {
            skipped.push(format!("{what}: unknown usage, selector or matching type"));
        } else if !r.end_entity() {
            skipped.push(format!(
                "{what}: a trust anchor, not a recipient certificate"
            ));
        } else if r.selector != 0 || r.matching != 0 {
            skipped.push(format!(
                "{what}: only identifies a certificate obtained elsewhere"
            ));
        } else {
            match super::x509::check_recipient_cert(&r.data, address) {
                Ok(()) => certificates.push(SmimeaCert {
                    sha256: Sha256::digest(&r.data)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                    der: r.data.clone(),
                    needs_pkix: r.needs_pkix(),
                }),
                Err(e) => skipped.push(format!("{what}: {e}")),
            }
        }
    }
    SmimeaAnswer {
        name: name.to_string(),
        records,
        certificates,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_follow_rfc_7929() {
        // RFC 7929 §3's example: hugh@example.com.
        assert_eq!(
            owner_name("hugh@example.com", "_openpgpkey").unwrap(),
            "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.example.com."
        );
        assert!(owner_name("nobody", "_smimecert").is_err());
        assert!(owner_name("@x", "_smimecert").is_err());
    }

    #[test]
    fn unknown_and_indirect_records_are_skipped() {
        let record = |usage, selector, matching| SmimeaRecord {
            usage,
            selector,
            matching,
            data: b"junk".to_vec(),
        };
        let answer = certificates_from(
            "n.",
            "a@b.c",
            vec![
                record(2, 0, 0),
                record(3, 1, 1),
                record(9, 0, 0),
                record(3, 0, 0),
            ],
        );
        assert!(answer.certificates.is_empty());
        assert_eq!(answer.skipped.len(), 4, "{:?}", answer.skipped);
        assert!(
            answer.skipped[3].contains("certificate"),
            "{:?}",
            answer.skipped
        );
    }

    #[test]
    fn matching_types_hash_the_selected_part() {
        let der = b"not really a certificate".to_vec();
        let sha = Sha256::digest(&der).to_vec();
        let r = SmimeaRecord {
            usage: 3,
            selector: 0,
            matching: 1,
            data: sha,
        };
        assert!(r.matches(&der));
        assert!(!r.matches(b"other"));
        let r = SmimeaRecord {
            usage: 3,
            selector: 0,
            matching: 2,
            data: Sha512::digest(&der).to_vec(),
        };
        assert!(r.matches(&der));
        let r = SmimeaRecord {
            usage: 3,
            selector: 1,
            matching: 0,
            data: der.clone(),
        };
        assert!(!r.matches(&der), "garbage has no SPKI");
    }
}
