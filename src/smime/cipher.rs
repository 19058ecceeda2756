//! Content encryption: AES-256-GCM (RFC 5084, 12-byte nonce, 16-byte ICV)
//! and AES-256-CBC (PKCS#7 padding), streaming on the way out, whole-buffer
//! on the way in (plaintext is released only after the check). AES-128
//! (GCM and CBC) is read too, as gpgsm and some clients send it.
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

/// Decrypts and authenticates GCM content in place. Any failure is `Err(OpenFailed)`
/// and the buffer is wiped.
pub fn gcm_open(
    key: &[u8],
    nonce: &[u8],
    tag: &[u8],
    data: &mut Vec<u8>,
) -> Result<(), OpenFailed> {
    use aes_gcm::aead::AeadInOut;
    if nonce.len() != 12 || tag.len() != 16 {
        return Err(OpenFailed);
    }
    let nonce = nonce.try_into().map_err(|_| OpenFailed)?;
    let tag = tag.try_into().map_err(|_| OpenFailed)?;
    let result = match key.len() {
        32 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .map_err(|_| OpenFailed)?
            .decrypt_inout_detached(nonce, b"", data.as_mut_slice().into(), tag),
        16 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .map_err(|_| OpenFailed)?
            .decrypt_inout_detached(nonce, b"", data.as_mut_slice().into(), tag),
        _ => return Err(OpenFailed),
    };
    if result.is_err() {
        data.fill(0);
        data.clear();
        return Err(OpenFailed);
    }
    Ok(())
}

/// Decrypts CBC content and removes its padding. Any failure is `Err(OpenFailed)`.
pub fn cbc_open(key: &[u8], iv: &[u8], data: &mut Vec<u8>) -> Result<(), OpenFailed> {
    use aes::cipher::block_padding::Pkcs7;
    if iv.len() != 16 || data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(OpenFailed);
    }
    let decrypted = match key.len() {
        32 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| OpenFailed)?
            .decrypt_padded::<Pkcs7>(data)
            .map(|p| p.len()),
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| OpenFailed)?
            .decrypt_padded::<Pkcs7>(data)
            .map(|p| p.len()),
        _ => return Err(OpenFailed),
    };
    let len = match decrypted {
        Ok(len) => len,
        Err(_) => {
            data.fill(0);
            data.clear();
            return Err(OpenFailed);
        }
    };
    data.truncate(len);
    Ok(())
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
        cbc_open(&key, &iv, &mut opened).unwrap();
        assert_eq!(&opened[..32], &[5u8; 32]);
        assert_eq!(&opened[32..], b"tail");
        let mut tampered = first.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cbc_open(&key, &iv, &mut tampered).is_err());
    }
}
