//! Content encryption: AES-256-GCM (RFC 5084, 12-byte nonce, 16-byte ICV)
//! and AES-256-CBC (PKCS#7 padding), streaming on the way out, whole-buffer
//! on the way in (plaintext is released only after the check). Read only:
//! AES-128 and AES-192 (GCM and CBC; gpgsm sends AES-128) and 3DES
//! (des-ede3-cbc, what `openssl cms -encrypt` and `openssl smime -encrypt`
//! send by default and what years of archived mail use).
//!
//! Streaming GCM is composed here from AES-CTR and GHASH (NIST SP 800-38D
//! §7.1) because `aes-gcm` only seals whole buffers; a unit test checks it
//! against `aes-gcm` byte for byte.

use aes::cipher::{
    BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit, StreamCipher,
};
use aes::Aes256;
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use zeroize::Zeroizing;

/// Which content encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContentCipher {
    /// AuthEnvelopedData with AES-256-GCM (the default).
    Aes256Gcm,
    /// EnvelopedData with AES-256-CBC, for clients that cannot read GCM.
    Aes256Cbc,
}

impl ContentCipher {
    /// Parses the `smime.content_cipher` setting.
    pub fn parse(name: &str) -> Option<ContentCipher> {
        match name.to_ascii_lowercase().as_str() {
            "aes256-gcm" | "aes-256-gcm" => Some(ContentCipher::Aes256Gcm),
            "aes256-cbc" | "aes-256-cbc" => Some(ContentCipher::Aes256Cbc),
            _ => None,
        }
    }
}

/// Encrypts content in chunks whose length is a multiple of 16 bytes,
/// then a final chunk of any length.
pub enum ContentEncryptor {
    Gcm {
        ctr: Box<ctr::Ctr32BE<Aes256>>,
        ghash: Box<GHash>,
        /// E_K(J0), XORed into GHASH's output to make the tag.
        tag_mask: [u8; 16],
        length: u64,
    },
    Cbc(Box<cbc::Encryptor<Aes256>>),
}

impl ContentEncryptor {
    /// GCM with a 96-bit nonce: J0 = nonce || 0^31 || 1.
    pub fn gcm(key: &[u8; 32], nonce: &[u8; 12]) -> ContentEncryptor {
        let aes = Aes256::new(key.into());
        let mut h = [0u8; 16];
        aes.encrypt_block((&mut h).into());
        let mut j0 = [0u8; 16];
        j0[..12].copy_from_slice(nonce);
        j0[15] = 1;
        let mut tag_mask = j0;
        aes.encrypt_block((&mut tag_mask).into());
        let mut counter = j0;
        counter[15] = 2;
        ContentEncryptor::Gcm {
            ctr: Box::new(ctr::Ctr32BE::<Aes256>::new(key.into(), (&counter).into())),
            ghash: Box::new(GHash::new((&h).into())),
            tag_mask,
            length: 0,
        }
    }

    pub fn cbc(key: &[u8; 32], iv: &[u8; 16]) -> ContentEncryptor {
        ContentEncryptor::Cbc(Box::new(cbc::Encryptor::<Aes256>::new(
            key.into(),
            iv.into(),
        )))
    }

    /// Encrypts `data` in place; its length must be a multiple of 16.
    pub fn update(&mut self, data: &mut [u8]) {
        debug_assert_eq!(data.len() % 16, 0);
        match self {
            ContentEncryptor::Gcm {
                ctr, ghash, length, ..
            } => {
                ctr.apply_keystream(data);
                ghash.update_padded(data);
                *length += data.len() as u64;
            }
            ContentEncryptor::Cbc(enc) => {
                for block in data.chunks_exact_mut(16) {
                    enc.encrypt_block(block.try_into().expect("16 bytes"));
                }
            }
        }
    }

    /// Encrypts the last `data` (any length; CBC pads it, so it may grow)
    /// and returns the GCM tag, if any.
    pub fn finish(self, data: &mut Vec<u8>) -> Option<[u8; 16]> {
        match self {
            ContentEncryptor::Gcm {
                mut ctr,
                mut ghash,
                tag_mask,
                length,
            } => {
                ctr.apply_keystream(data);
                ghash.update_padded(data);
                let bits = (length + data.len() as u64) * 8;
                let mut lengths = [0u8; 16];
                lengths[8..].copy_from_slice(&bits.to_be_bytes());
                ghash.update(&[lengths.into()]);
                let s = ghash.finalize();
                let mut tag = [0u8; 16];
                for i in 0..16 {
                    tag[i] = s[i] ^ tag_mask[i];
                }
                Some(tag)
            }
            ContentEncryptor::Cbc(mut enc) => {
                let pad = 16 - data.len() % 16;
                data.extend(std::iter::repeat_n(pad as u8, pad));
                for block in data.chunks_exact_mut(16) {
                    enc.encrypt_block(block.try_into().expect("16 bytes"));
                }
                None
            }
        }
    }
}

/// Decryption or authentication failed; deliberately says nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFailed;

/// A content-encryption algorithm mailseal reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAlgorithm {
    /// AES-GCM with a key of this many bytes (16, 24 or 32).
    AesGcm(usize),
    /// AES-CBC with a key of this many bytes (16, 24 or 32).
    AesCbc(usize),
    /// Triple DES in CBC mode (read only).
    DesEde3Cbc,
}

/// Names of content-encryption algorithms that mailseal does not read.
fn unsupported_name(o: const_oid::ObjectIdentifier) -> String {
    let name = match o.to_string().as_str() {
        "1.2.840.113549.3.2" => "RC2-CBC",
        "1.3.14.3.2.7" => "DES-CBC (single DES)",
        "1.2.840.113549.3.4" => "RC4",
        "2.16.840.1.101.3.4.1.7" | "2.16.840.1.101.3.4.1.27" | "2.16.840.1.101.3.4.1.47" => {
            "AES-CCM"
        }
        "1.2.840.113549.1.9.16.3.18" => "ChaCha20-Poly1305",
        _ => return format!("content encryption algorithm {o}"),
    };
    format!("content encryption {name} ({o})")
}

impl ContentAlgorithm {
    /// The algorithm an EncryptedContentInfo names; anything else is an
    /// [`crate::Error::Unsupported`] that names it.
    pub fn from_oid(o: const_oid::ObjectIdentifier) -> crate::Result<ContentAlgorithm> {
        use super::oid;
        Ok(match o {
            o if o == oid::AES128_GCM => ContentAlgorithm::AesGcm(16),
            o if o == oid::AES192_GCM => ContentAlgorithm::AesGcm(24),
            o if o == oid::AES256_GCM => ContentAlgorithm::AesGcm(32),
            o if o == oid::AES128_CBC => ContentAlgorithm::AesCbc(16),
            o if o == oid::AES192_CBC => ContentAlgorithm::AesCbc(24),
            o if o == oid::AES256_CBC => ContentAlgorithm::AesCbc(32),
            o if o == oid::DES_EDE3_CBC => ContentAlgorithm::DesEde3Cbc,
            other => {
                return Err(crate::Error::Unsupported {
                    what: format!(
                        "the message uses {}; mailseal reads AES (GCM and CBC, 128/192/256 bits) and 3DES",
                        unsupported_name(other)
                    ),
                    hint: "ask the sender to encrypt with AES (any S/MIME client made this century can)"
                        .into(),
                })
            }
        })
    }

    /// Whether the algorithm authenticates (AuthEnvelopedData).
    pub fn is_authenticated(self) -> bool {
        matches!(self, ContentAlgorithm::AesGcm(_))
    }

    /// Length of the content-encryption key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            ContentAlgorithm::AesGcm(n) | ContentAlgorithm::AesCbc(n) => n,
            ContentAlgorithm::DesEde3Cbc => 24,
        }
    }
}

/// Decrypts and authenticates GCM content in place. Any failure is `Err(OpenFailed)`
/// and the buffer is wiped.
pub fn gcm_open(
    key: &[u8],
    nonce: &[u8],
    tag: &[u8],
    data: &mut Vec<u8>,
) -> Result<(), OpenFailed> {
    use aes_gcm::aead::AeadInOut;
    type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;
    if nonce.len() != 12 || tag.len() != 16 {
        return Err(OpenFailed);
    }
    let nonce = nonce.try_into().map_err(|_| OpenFailed)?;
    let tag = tag.try_into().map_err(|_| OpenFailed)?;
    let buffer = data.as_mut_slice().into();
    let result = match key.len() {
        32 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .map_err(|_| OpenFailed)?
            .decrypt_inout_detached(nonce, b"", buffer, tag),
        24 => Aes192Gcm::new_from_slice(key)
            .map_err(|_| OpenFailed)?
            .decrypt_inout_detached(nonce, b"", buffer, tag),
        16 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .map_err(|_| OpenFailed)?
            .decrypt_inout_detached(nonce, b"", buffer, tag),
        _ => return Err(OpenFailed),
    };
    if result.is_err() {
        data.fill(0);
        data.clear();
        return Err(OpenFailed);
    }
    Ok(())
}

/// Decrypts CBC content of `algorithm` and removes its padding. Any
/// failure is `Err(OpenFailed)`.
pub fn cbc_open(
    algorithm: ContentAlgorithm,
    key: &[u8],
    iv: &[u8],
    data: &mut Vec<u8>,
) -> Result<(), OpenFailed> {
    use aes::cipher::block_padding::Pkcs7;
    fn open<C>(key: &[u8], iv: &[u8], data: &mut [u8]) -> Result<usize, OpenFailed>
    where
        C: aes::cipher::BlockCipherDecrypt + aes::cipher::KeyInit,
    {
        cbc::Decryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| OpenFailed)?
            .decrypt_padded::<Pkcs7>(data)
            .map(|p| p.len())
            .map_err(|_| OpenFailed)
    }
    let block = if algorithm == ContentAlgorithm::DesEde3Cbc {
        8
    } else {
        16
    };
    if iv.len() != block
        || key.len() != algorithm.key_len()
        || data.is_empty()
        || !data.len().is_multiple_of(block)
    {
        return Err(OpenFailed);
    }
    let decrypted = match algorithm {
        ContentAlgorithm::AesCbc(32) => open::<Aes256>(key, iv, data),
        ContentAlgorithm::AesCbc(24) => open::<aes::Aes192>(key, iv, data),
        ContentAlgorithm::AesCbc(16) => open::<aes::Aes128>(key, iv, data),
        ContentAlgorithm::DesEde3Cbc => open::<des::TdesEde3>(key, iv, data),
        _ => Err(OpenFailed),
    };
    match decrypted {
        Ok(len) => {
            data.truncate(len);
            Ok(())
        }
        Err(_) => {
            data.fill(0);
            data.clear();
            Err(OpenFailed)
        }
    }
}

/// A fresh random content-encryption key.
pub fn new_content_key() -> Zeroizing<[u8; 32]> {
    Zeroizing::new(super::random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_gcm_matches_aes_gcm() {
        use aes_gcm::aead::AeadInOut;
        let key = [7u8; 32];
        let nonce = [9u8; 12];
        for len in [0usize, 1, 15, 16, 17, 100, 4096, 4099] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut enc = ContentEncryptor::gcm(&key, &nonce);
            let whole = len / 32 * 32;
            let mut out = plain[..whole].to_vec();
            enc.update(&mut out);
            let mut last = plain[whole..].to_vec();
            let tag = enc.finish(&mut last).unwrap();
            out.extend(last);
            let mut expected = plain.clone();
            let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
            let expected_tag = cipher
                .encrypt_inout_detached((&nonce).into(), b"", expected.as_mut_slice().into())
                .unwrap();
            assert_eq!(out, expected, "ciphertext, length {len}");
            assert_eq!(&tag[..], &expected_tag[..], "tag, length {len}");
            let mut opened = out.clone();
            gcm_open(&key, &nonce, &tag, &mut opened).unwrap();
            assert_eq!(opened, plain);
        }
    }

    #[test]
    fn cbc_round_trip_and_tamper() {
        let key = [1u8; 32];
        let iv = [2u8; 16];
        let mut enc = ContentEncryptor::cbc(&key, &iv);
        let mut first = vec![5u8; 32];
        enc.update(&mut first);
        let mut last = b"tail".to_vec();
        assert!(enc.finish(&mut last).is_none());
        first.extend(last);
        let mut opened = first.clone();
        cbc_open(ContentAlgorithm::AesCbc(32), &key, &iv, &mut opened).unwrap();
        assert_eq!(&opened[..32], &[5u8; 32]);
        assert_eq!(&opened[32..], b"tail");
        let mut tampered = first.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cbc_open(ContentAlgorithm::AesCbc(32), &key, &iv, &mut tampered).is_err());
    }
}
