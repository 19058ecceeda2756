//! RSA algorithm parameters (RFC 4055, RFC 8017 appendix A.2):
//! RSAES-OAEP-params and RSASSA-PSS-params, with their DEFAULTs (SHA-1,
//! MGF1-SHA-1, 20-byte salt), and the digests they may name.

use der::asn1::OctetString;
use der::{Any, Sequence};
use spki::AlgorithmIdentifierOwned;

use super::oid;
use crate::{Error, Result};

/// A digest named in RSA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The digest an AlgorithmIdentifier names, if one mailseal computes.
    pub fn from_oid(o: const_oid::ObjectIdentifier) -> Option<Hash> {
        match o {
            o if o == oid::SHA1 => Some(Hash::Sha1),
            o if o == oid::SHA256 => Some(Hash::Sha256),
            o if o == oid::SHA384 => Some(Hash::Sha384),
            o if o == oid::SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }

    /// A digest computed over data that arrives in pieces.
    pub fn hasher(self) -> Hasher {
        use sha2_11::Digest;
        match self {
            Hash::Sha1 => Hasher::Sha1(sha1_011::Sha1::new()),
            Hash::Sha256 => Hasher::Sha256(sha2_11::Sha256::new()),
            Hash::Sha384 => Hasher::Sha384(sha2_11::Sha384::new()),
            Hash::Sha512 => Hasher::Sha512(sha2_11::Sha512::new()),
        }
    }
}

/// A [`Hash`] being computed.
pub enum Hasher {
    Sha1(sha1_011::Sha1),
    Sha256(sha2_11::Sha256),
    Sha384(sha2_11::Sha384),
    Sha512(sha2_11::Sha512),
}

impl Hasher {
    /// Hashes the next piece of the data.
    pub fn update(&mut self, data: &[u8]) {
        use sha2_11::Digest;
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of all the pieces.
    pub fn finish(self) -> Vec<u8> {
        use sha2_11::Digest;
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// RSAES-OAEP-params (RFC 4055 §4.1).
#[derive(Clone, Debug, Sequence)]
pub struct OaepParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub p_source: Option<AlgorithmIdentifierOwned>,
}

/// RSASSA-PSS-params (RFC 4055 §3.1).
#[derive(Clone, Debug, Sequence)]
pub struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    pub mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    pub salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    pub trailer_field: Option<u32>,
}

/// id-pSpecified (RFC 8017 A.2.1).
const P_SPECIFIED: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.9");

fn unsupported(what: String) -> Error {
    Error::Unsupported {
        what,
        hint: "ask the sender to use RSA with SHA-256 (or SHA-1, SHA-384, SHA-512) and MGF1, or an ECDH (P-256) certificate".into(),
    }
}

fn hash_named(alg: Option<&AlgorithmIdentifierOwned>, what: &str) -> Result<Hash> {
    match alg {
        None => Ok(Hash::Sha1),
        Some(a) => Hash::from_oid(a.oid).ok_or_else(|| unsupported(format!("{what} {}", a.oid))),
    }
}

fn mgf1_hash(alg: Option<&AlgorithmIdentifierOwned>, what: &str) -> Result<Hash> {
    let Some(mgf) = alg else {
        return Ok(Hash::Sha1);
    };
    if mgf.oid != oid::MGF1 {
        return Err(unsupported(format!(
            "{what} mask generation function {}",
            mgf.oid
        )));
    }
    let inner = mgf
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok());
    match inner {
        Some(h) => {
            Hash::from_oid(h.oid).ok_or_else(|| unsupported(format!("{what} MGF1 hash {}", h.oid)))
        }
        None => Err(unsupported(format!("{what} MGF1 without a hash"))),
    }
}

/// The (hash, MGF1 hash) an RSAES-OAEP AlgorithmIdentifier names; the
/// label must be empty.
pub fn oaep(parameters: Option<&Any>) -> Result<(Hash, Hash)> {
    let params: OaepParams = match parameters {
        None => return Ok((Hash::Sha1, Hash::Sha1)),
        Some(p) => p
            .decode_as()
            .map_err(|e| unsupported(format!("RSAES-OAEP parameters that do not parse ({e})")))?,
    };
    if let Some(source) = &params.p_source {
        let empty = source.oid == P_SPECIFIED
            && source
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<OctetString>().ok())
                .is_some_and(|l| l.as_bytes().is_empty());
        if !empty {
            return Err(unsupported("RSAES-OAEP with a label".into()));
        }
    }
    Ok((
        hash_named(params.hash.as_ref(), "RSAES-OAEP hash")?,
        mgf1_hash(params.mask_gen.as_ref(), "RSAES-OAEP")?,
    ))
}

/// The hash and salt length an RSASSA-PSS AlgorithmIdentifier names.
/// The MGF1 hash must be the same hash (what every signer does, and what
/// the `rsa` crate verifies).
pub fn pss(parameters: Option<&Any>) -> std::result::Result<(Hash, usize), String> {
    let params: PssParams = parameters
        .ok_or("RSASSA-PSS without parameters")?
        .decode_as()
        .map_err(|e| format!("RSASSA-PSS parameters do not parse: {e}"))?;
    let hash = hash_named(params.hash.as_ref(), "RSASSA-PSS hash").map_err(|e| e.to_string())?;
    let mgf = mgf1_hash(params.mask_gen.as_ref(), "RSASSA-PSS").map_err(|e| e.to_string())?;
    if mgf != hash {
        return Err(format!(
            "unsupported: RSASSA-PSS with hash {hash:?} but MGF1-{mgf:?}"
        ));
    }
    if params.trailer_field.unwrap_or(1) != 1 {
        return Err("unsupported: RSASSA-PSS trailer field other than 1".into());
    }
    Ok((hash, params.salt_length.unwrap_or(20) as usize))
}

/// RSASSA-PSS parameters for signing: SHA-256, MGF1-SHA-256, a 32-byte
/// salt.
pub fn pss_sha256() -> Result<Any> {
    let encode = |e: der::Error| Error::Malformed(format!("cannot encode CMS structure: {e}"));
    let sha256 = AlgorithmIdentifierOwned {
        oid: oid::SHA256,
        parameters: None,
    };
    let params = PssParams {
        mask_gen: Some(AlgorithmIdentifierOwned {
            oid: oid::MGF1,
            parameters: Some(Any::encode_from(&sha256).map_err(encode)?),
        }),
        hash: Some(sha256),
        salt_length: Some(32),
        trailer_field: None,
    };
    Any::encode_from(&params).map_err(encode)
}
