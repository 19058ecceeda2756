//! Opening received messages, for `decrypt` and `verify`: the [`Opener`]
//! recognises what a message is (PGP/MIME encrypted or signed, inline PGP,
//! S/MIME enveloped, authEnveloped, multipart/signed or opaque signed-data)
//! and decrypts or verifies it, as a stream in bounded memory when it is
//! [`IN_MEMORY`] bytes or more and of a kind that streams, else whole in
//! memory. It loads the keys a message needs when it needs them.
//! Printing, and storing certificates (`--import-certs`), are the caller's.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::config::Config;
use crate::home::Home;
use crate::keys::{CertStore, SecretKeys, Unlocker};
use crate::message::header::split_entity;
use crate::message::{canon, Headers};
use crate::openpgp::{self, verify::Keys, OpenOptions, SignedStream, Verification};
use crate::seal::SmimeKeys;
use crate::smime::{self, certs::SmimeCert, stream::OpenedStream};
use crate::spill::{CanonicalFile, ReadFrom, IN_MEMORY};
use crate::{Error, Result};

/// How much of a large message is read to recognise it.
const HEAD: u64 = 64 << 10;

/// Opens messages with the keys in a home.
pub struct Opener<'a> {
    pub home: &'a Home,
    pub config: &'a Config,
    pub unlocker: &'a Unlocker,
    pub options: OpenOptions,
    /// Where plaintext waiting for its check spills (encrypted).
    pub spill_dir: &'a Path,
}

/// A decrypted message, not yet written.
pub enum Decrypted {
    /// OpenPGP: the signatures found inside, and the message.
    OpenPgp {
        verification: Verification,
        message: OpenPgpMessage,
    },
    /// S/MIME: what was found, to be written only when
    /// [`OpenedStream::check_release`] allows it.
    Smime(OpenedStream),
}

/// A decrypted OpenPGP message: in memory, or waiting in a spill.
pub enum OpenPgpMessage {
    Whole(Vec<u8>),
    Spilled(openpgp::stream::Decrypted),
}

impl OpenPgpMessage {
    /// Writes the cleartext message (CRLF) to `output`.
    pub fn write_to(self, output: &mut dyn Write) -> io::Result<()> {
        match self {
            OpenPgpMessage::Whole(message) => output.write_all(&message),
            OpenPgpMessage::Spilled(decrypted) => decrypted.write_to(output),
        }
    }
}

/// What `verify` found.
#[derive(Debug)]
pub struct Verified {
    pub verification: Verification,
    /// S/MIME: the certificates carried by signatures that verified.
    pub certificates: Vec<SmimeCert>,
}

impl Verified {
    fn openpgp(verification: Verification) -> Verified {
        Verified {
            verification,
            certificates: Vec::new(),
        }
    }

    fn smime(signatures: Vec<openpgp::SignatureReport>, certificates: Vec<SmimeCert>) -> Verified {
        Verified {
            verification: Verification {
                signatures,
                unsigned_parts: Vec::new(),
            },
            certificates,
        }
    }
}

impl Opener<'_> {
    /// Decrypts the message read from `input` (of `size` bytes when known).
    pub fn decrypt(&self, input: impl Read + Send + Sync, size: Option<u64>) -> Result<Decrypted> {
        let mut input = input;
        let mut message = Vec::new();
        (&mut input)
            .take(IN_MEMORY as u64)
            .read_to_end(&mut message)
            .map_err(read_error)?;
        let large = message.len() == IN_MEMORY;
        let head = head_fields(&message);
        if large && smime::stream::is_enveloped(&message) {
            let keys = self.smime_keys()?;
            let input = io::Cursor::new(message).chain(input);
            return Ok(Decrypted::Smime(smime::stream::open_stream(
                input,
                &keys.own,
                &keys.keyring(),
                self.spill_dir,
            )?));
        }
        let openpgp_head = head
            .as_ref()
            .filter(|headers| !smime::framing::is_smime_entity(headers));
        if large && openpgp_head.is_some_and(|headers| !openpgp::stream::reads(headers)) {
            return Err(openpgp::stream::why_not_decrypted(
                io::Cursor::new(message).chain(input),
            ));
        }
        if large && openpgp_head.is_some() {
            let input = io::Cursor::new(message).chain(input);
            return self.with_openpgp_keys(|keys| {
                let mut decrypted =
                    openpgp::decrypt_stream(input, size, keys, self.options, self.spill_dir)?;
                Ok(Decrypted::OpenPgp {
                    verification: std::mem::take(&mut decrypted.verification),
                    message: OpenPgpMessage::Spilled(decrypted),
                })
            });
        }
        input.read_to_end(&mut message).map_err(read_error)?;
        if smime::framing::is_smime(&canon::to_crlf(&message))? {
            let keys = self.smime_keys()?;
            let opened = smime::open_message(&message, &keys.own, &keys.keyring())?;
            return Ok(Decrypted::Smime(opened.into()));
        }
        self.with_openpgp_keys(|keys| {
            let opened = openpgp::decrypt_message(&message, keys, self.options)?;
            Ok(Decrypted::OpenPgp {
                verification: opened.verification,
                message: OpenPgpMessage::Whole(opened.message),
            })
        })
    }

    /// Checks the signatures of the message in `input`, which is read
    /// more than once.
    pub fn verify(&self, input: &mut File) -> Result<Verified> {
        let large = input.metadata().is_ok_and(|m| m.len() >= IN_MEMORY as u64);
        if let Some(signed) = SignedStream::scan(input)? {
            return self
                .with_openpgp_keys(|keys| signed.verify(input, keys))
                .map(Verified::openpgp);
        }
        if large {
            if let Some(verified) = self.verify_stream(input)? {
                return Ok(verified);
            }
        }
        let mut message = Vec::new();
        input
            .rewind()
            .and_then(|()| input.read_to_end(&mut message))
            .map_err(read_error)?;
        if smime::framing::is_smime(&canon::to_crlf(&message))? {
            let keys = self.smime_keys()?;
            let opened = smime::open_message(&message, &keys.own, &keys.keyring())?;
            return Ok(Verified::smime(opened.signatures, opened.certificates));
        }
        self.with_openpgp_keys(|keys| openpgp::verify_message(&message, keys, self.options))
            .map(Verified::openpgp)
    }

    /// [`Opener::verify`] of a large message that streams: PGP/MIME
    /// encrypted (decrypted as a stream, the plaintext discarded), and
    /// S/MIME layers in any nesting ([`smime::stream::verify_stream`]).
    /// `None` for any other kind, or one that must be read whole.
    fn verify_stream(&self, input: &mut File) -> Result<Option<Verified>> {
        let mut head = Vec::new();
        input
            .rewind()
            .and_then(|()| (&mut *input).take(HEAD).read_to_end(&mut head))
            .and_then(|_| input.rewind())
            .map_err(read_error)?;
        let (header_bytes, body_head) = split_entity(&head);
        let headers = Headers::parse(&canon::to_crlf(header_bytes));
        let is_smime = headers.as_ref().is_ok_and(smime::framing::is_smime_entity);
        let kind = headers
            .as_ref()
            .ok()
            .filter(|_| !is_smime)
            .and_then(|headers| openpgp::stream::Kind::of(headers, body_head));
        let parts = headers.as_ref().ok().filter(|headers| {
            let content_type = headers.content_type();
            !is_smime
                && kind.is_none()
                && content_type.is_multipart()
                && content_type.mime != "multipart/signed"
        });
        if let Some(headers) = parts {
            return self.verify_parts(input, headers, &head);
        }
        if kind == Some(openpgp::stream::Kind::ClearSigned) {
            return self
                .with_openpgp_keys(|keys| openpgp::signed_stream::verify_clearsigned(input, keys))
                .map(|verification| Some(Verified::openpgp(verification)));
        }
        if kind == Some(openpgp::stream::Kind::InlineSigned) {
            let size = input.metadata().ok().map(|m| m.len());
            input.rewind().map_err(read_error)?;
            return self
                .with_openpgp_keys(|keys| {
                    openpgp::signed_stream::verify_inline(&mut *input, size, keys, self.options)
                })
                .map(|verification| Some(Verified::openpgp(verification)));
        }
        if kind == Some(openpgp::stream::Kind::Encrypted) {
            let size = input.metadata().ok().map(|m| m.len());
            return self.with_openpgp_keys(|keys| {
                let mut decrypted =
                    openpgp::decrypt_stream(&mut *input, size, keys, self.options, self.spill_dir)?;
                let verification = std::mem::take(&mut decrypted.verification);
                Ok(Some(Verified::openpgp(verification)))
            });
        }
        if !is_smime {
            return Ok(None);
        }
        let keys = self.smime_keys()?;
        let opened =
            smime::stream::verify_stream(input, &keys.own, &keys.keyring(), self.spill_dir)?;
        Ok(opened.map(|opened| Verified::smime(opened.signatures, opened.certificates)))
    }

    /// [`Opener::verify`] of a large multipart message with the header
    /// fields `headers` (whose start is `head`), neither signed nor
    /// encrypted at its root: its parts are searched for signatures as a
    /// small message's are, in bounded memory. `None` when its header
    /// section does not end in `head`.
    fn verify_parts(
        &self,
        input: &mut File,
        headers: &Headers,
        head: &[u8],
    ) -> Result<Option<Verified>> {
        let canonical = canon::to_crlf(head);
        let (_, body) = split_entity(&canonical);
        if body.is_empty() {
            return Ok(None);
        }
        let body_start = (canonical.len() - body.len()) as u64;
        let mut file = CanonicalFile(input);
        // S/MIME parts inside: the S/MIME verdict, as for a small message.
        let body = file.read_from(body_start).map_err(read_error)?;
        let nested = smime::framing::nested_streamed(
            headers.clone(),
            io::BufReader::with_capacity(1 << 16, body),
            body_start,
        )?;
        if !nested.is_empty() {
            let signatures = smime::verify::nested_verdict(&nested)?;
            return Ok(Some(Verified::smime(signatures, Vec::new())));
        }
        self.with_openpgp_keys(|keys| {
            let mut verification = openpgp::stream::spilled_verification(
                Vec::new(),
                None,
                &mut file,
                (headers, body_start..u64::MAX),
                keys,
                self.options,
            )?;
            openpgp::verify::bind_to_sender(&mut verification.signatures, headers);
            Ok(Some(Verified::openpgp(verification)))
        })
    }

    /// The S/MIME keys and certificates.
    fn smime_keys(&self) -> Result<SmimeKeys> {
        SmimeKeys::load(self.home, self.config)
    }

    /// Runs `open` with the OpenPGP keys: others' certificates and own keys.
    fn with_openpgp_keys<T>(&self, open: impl FnOnce(&Keys) -> Result<T>) -> Result<T> {
        let store = CertStore::open(&self.home.cert_dir(), &self.home.cert_index_file())?;
        let own = SecretKeys::new(&self.home.openpgp_key_dir()).all()?;
        open(&Keys {
            store: &store,
            own: &own,
            unlocker: self.unlocker,
        })
    }
}

/// The header fields at the start of a message, if it has any that parse.
fn head_fields(head: &[u8]) -> Option<Headers> {
    let (header_bytes, _) = split_entity(head);
    Headers::parse(&canon::to_crlf(header_bytes))
        .ok()
        .filter(|headers| !headers.fields().is_empty())
}

fn read_error(e: io::Error) -> Error {
    Error::io("reading the message", e)
}
