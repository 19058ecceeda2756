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

use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, BlockSizeUser, InnerIvInit, KeyInit,
    KeyIvInit, StreamCipher,
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
        let (ctr, ghash, tag_mask) = gcm_start(Aes256::new(key.into()), nonce);
        ContentEncryptor::Gcm {
            ctr: Box::new(ctr),
            ghash: Box::new(ghash),
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
                Some(gcm_tag(*ghash, &tag_mask, length + data.len() as u64))
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

/// Decrypts content as it arrives: [`ContentDecryptor::update`] with whole
/// blocks, then [`ContentDecryptor::finish`] with the rest, which checks
/// the GCM tag or the CBC padding. Whoever holds the plaintext must not
/// release any of it before `finish` returned `Ok`.
pub trait ContentDecryptor: Send {
    /// The cipher's block size: `update` takes multiples of it, and CBC's
    /// `finish` needs at least one block.
    fn block_size(&self) -> usize;

    /// Decrypts `data`, a multiple of [`ContentDecryptor::block_size`]
    /// bytes, in place.
    fn update(&mut self, data: &mut [u8]);

    /// Decrypts the last `data` in place and checks everything: the GCM
    /// `tag`, or the CBC padding (removed). Any failure is `Err(OpenFailed)`
    /// and `data` is wiped.
    fn finish(self: Box<Self>, data: &mut Vec<u8>, tag: Option<&[u8]>) -> Result<(), OpenFailed>;
}

/// A decryptor for `algorithm` with `key` and its `iv` (the GCM nonce).
pub fn content_decryptor(
    algorithm: ContentAlgorithm,
    key: &[u8],
    iv: &[u8],
) -> Result<Box<dyn ContentDecryptor>, OpenFailed> {
    fn gcm<C>(key: &[u8], iv: &[u8]) -> Result<Box<dyn ContentDecryptor>, OpenFailed>
    where
        C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit + Send + 'static,
    {
        let nonce: &[u8; 12] = iv.try_into().map_err(|_| OpenFailed)?;
        let (ctr, ghash, tag_mask) =
            gcm_start(C::new_from_slice(key).map_err(|_| OpenFailed)?, nonce);
        Ok(Box::new(GcmDecryptor {
            ctr,
            ghash,
            tag_mask,
            length: 0,
        }))
    }
    fn cbc<C>(key: &[u8], iv: &[u8]) -> Result<Box<dyn ContentDecryptor>, OpenFailed>
    where
        C: aes::cipher::BlockCipherDecrypt + KeyInit + Send + 'static,
    {
        Ok(Box::new(CbcDecryptor(
            cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| OpenFailed)?,
        )))
    }
    if key.len() != algorithm.key_len() {
        return Err(OpenFailed);
    }
    match algorithm {
        ContentAlgorithm::AesGcm(32) => gcm::<Aes256>(key, iv),
        ContentAlgorithm::AesGcm(24) => gcm::<aes::Aes192>(key, iv),
        ContentAlgorithm::AesGcm(16) => gcm::<aes::Aes128>(key, iv),
        ContentAlgorithm::AesCbc(32) => cbc::<Aes256>(key, iv),
        ContentAlgorithm::AesCbc(24) => cbc::<aes::Aes192>(key, iv),
        ContentAlgorithm::AesCbc(16) => cbc::<aes::Aes128>(key, iv),
        ContentAlgorithm::DesEde3Cbc => cbc::<des::TdesEde3>(key, iv),
        _ => Err(OpenFailed),
    }
}

/// GCM's keystream, GHASH and tag mask for a 96-bit nonce: J0 = nonce ||
/// 0^31 || 1, the keystream starting at J0 + 1, the tag mask E_K(J0).
fn gcm_start<C>(aes: C, nonce: &[u8; 12]) -> (ctr::Ctr32BE<C>, GHash, [u8; 16])
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut h = [0u8; 16];
    aes.encrypt_block((&mut h).into());
    let mut j0 = [0u8; 16];
    j0[..12].copy_from_slice(nonce);
    j0[15] = 1;
    let mut tag_mask = j0;
    aes.encrypt_block((&mut tag_mask).into());
    let mut counter = j0;
    counter[15] = 2;
    let ctr = ctr::Ctr32BE::<C>::from_core(ctr::CtrCore::inner_iv_init(aes, (&counter).into()));
    (ctr, GHash::new((&h).into()), tag_mask)
}

/// GCM's tag over `length` bytes of ciphertext already fed to `ghash`.
fn gcm_tag(mut ghash: GHash, tag_mask: &[u8; 16], length: u64) -> [u8; 16] {
    let mut lengths = [0u8; 16];
    lengths[8..].copy_from_slice(&(length * 8).to_be_bytes());
    ghash.update(&[lengths.into()]);
    let s = ghash.finalize();
    let mut tag = [0u8; 16];
    for i in 0..16 {
        tag[i] = s[i] ^ tag_mask[i];
    }
    tag
}

struct GcmDecryptor<C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16>> {
    ctr: ctr::Ctr32BE<C>,
    ghash: GHash,
    tag_mask: [u8; 16],
    length: u64,
}

impl<C> ContentDecryptor for GcmDecryptor<C>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = U16> + Send,
{
    fn block_size(&self) -> usize {
        16
    }

    fn update(&mut self, data: &mut [u8]) {
        debug_assert_eq!(data.len() % 16, 0);
        self.ghash.update_padded(data);
        self.ctr.apply_keystream(data);
        self.length += data.len() as u64;
    }

    fn finish(
        mut self: Box<Self>,
        data: &mut Vec<u8>,
        tag: Option<&[u8]>,
    ) -> Result<(), OpenFailed> {
        self.ghash.update_padded(data);
        self.ctr.apply_keystream(data);
        let length = self.length + data.len() as u64;
        let expected = gcm_tag(self.ghash, &self.tag_mask, length);
        // Constant time: every byte is compared.
        let good = tag.is_some_and(|tag| {
            tag.len() == 16 && tag.iter().zip(expected).fold(0, |d, (a, b)| d | (a ^ b)) == 0
        });
        if !good {
            data.fill(0);
            data.clear();
            return Err(OpenFailed);
        }
        Ok(())
    }
}

struct CbcDecryptor<C: aes::cipher::BlockCipherDecrypt>(cbc::Decryptor<C>);

impl<C> ContentDecryptor for CbcDecryptor<C>
where
    C: aes::cipher::BlockCipherDecrypt + Send,
{
    fn block_size(&self) -> usize {
        C::block_size()
    }

    fn update(&mut self, data: &mut [u8]) {
        let (blocks, rest) = aes::cipher::Array::slice_as_chunks_mut(data);
        debug_assert!(rest.is_empty());
        self.0.decrypt_blocks(blocks);
    }

    fn finish(
        mut self: Box<Self>,
        data: &mut Vec<u8>,
        tag: Option<&[u8]>,
    ) -> Result<(), OpenFailed> {
        let block = self.block_size();
        if tag.is_some() || data.is_empty() || !data.len().is_multiple_of(block) {
            data.fill(0);
            data.clear();
            return Err(OpenFailed);
        }
        self.update(data);
        // PKCS#7 padding: n bytes of value n, 1 <= n <= block.
        let pad = usize::from(*data.last().expect("not empty"));
        let good = (1..=block).contains(&pad)
            && data[data.len() - pad..]
                .iter()
                .all(|b| usize::from(*b) == pad);
        if !good {
            data.fill(0);
            data.clear();
            return Err(OpenFailed);
        }
        data.truncate(data.len() - pad);
        Ok(())
    }
}

/// A fresh random content-encryption key.
pub fn new_content_key() -> Zeroizing<[u8; 32]> {
    Zeroizing::new(super::random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decrypts `data` in pieces of 48 bytes, the last one (at least a
    /// block) held back for `finish`, as a stream reader would.
    fn open(
        algorithm: ContentAlgorithm,
        key: &[u8],
        iv: &[u8],
        data: &[u8],
        tag: Option<&[u8]>,
    ) -> Result<Vec<u8>, OpenFailed> {
        let mut decryptor = content_decryptor(algorithm, key, iv)?;
        let whole = data.len().saturating_sub(1) / 48 * 48;
        let mut out = data[..whole].to_vec();
        for piece in out.chunks_mut(48) {
            decryptor.update(piece);
        }
        let mut last = data[whole..].to_vec();
        decryptor.finish(&mut last, tag)?;
        out.extend(last);
        Ok(out)
    }

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
            assert_eq!(
                open(ContentAlgorithm::AesGcm(32), &key, &nonce, &out, Some(&tag)),
                Ok(plain)
            );
            let mut bad = tag;
            bad[15] ^= 1;
            assert!(open(ContentAlgorithm::AesGcm(32), &key, &nonce, &out, Some(&bad)).is_err());
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
        let opened = open(ContentAlgorithm::AesCbc(32), &key, &iv, &first, None).unwrap();
        assert_eq!(&opened[..32], &[5u8; 32]);
        assert_eq!(&opened[32..], b"tail");
        let mut tampered = first.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(open(ContentAlgorithm::AesCbc(32), &key, &iv, &tampered, None).is_err());
    }
}
