//! Typed errors that carry a recovery hint and a sysexits exit code.

use std::path::PathBuf;

/// A result with mailseal's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, phrased for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or its combination of options makes no sense.
    #[error("{0}")]
    Usage(String),

    /// The input is not what the command expects (not a message, broken MIME,
    /// damaged OpenPGP data).
    #[error("malformed input: {0}")]
    Malformed(String),

    /// An input file does not exist or cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    InputMissing {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A recipient has no key that can be used.
    #[error("no usable key for {recipient}: {reason}")]
    NoKey { recipient: String, reason: String },

    /// None of our secret keys can decrypt the message.
    #[error("cannot decrypt: {0}")]
    NoSecretKey(String),

    /// The ciphertext failed its integrity check; nothing was released.
    #[error("decryption failed: {0}")]
    Integrity(String),

    /// A signature is bad, missing, or made by an unknown key.
    #[error("verification failed: {0}")]
    Verification(String),

    /// A certificate failed validation; `check` names the check.
    #[error("refusing the certificate of {subject}: {check}")]
    Untrusted { subject: String, check: String },

    /// A protected key could not be unlocked.
    #[error("cannot unlock key {fingerprint}: {reason}")]
    Passphrase { fingerprint: String, reason: String },

    /// Discovery found a different certificate than the one stored for
    /// the address; nothing was imported.
    #[error("the key for {address} has changed: stored {stored}, {origin} offers {found}; nothing was imported")]
    KeyChanged {
        address: String,
        stored: String,
        found: String,
        origin: String,
    },

    /// Only a keyserver that does not verify addresses has a key; it was
    /// not imported.
    #[error("only an unverified key was found for {address}: {fingerprint} from {origin} (anyone can upload a key with any address there)")]
    UnverifiedKey {
        address: String,
        fingerprint: String,
        origin: String,
    },

    /// A secret file is readable by others, or similar.
    #[error("refusing to use {}: {reason}", path.display())]
    UnsafePermissions { path: PathBuf, reason: String },

    /// The configuration file is invalid.
    #[error("bad configuration in {}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    /// The home directory cannot be used.
    #[error("cannot use home directory {}: {reason}", path.display())]
    Home { path: PathBuf, reason: String },

    /// The requested key or certificate is not in the store.
    #[error("{0}")]
    NotFound(String),

    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },

    /// The OpenPGP engine reported something unexpected.
    #[error("OpenPGP: {0:#}")]
    OpenPgp(anyhow::Error),

    /// The relay's TLS is missing, failed, or did not verify; nothing more
    /// was sent.
    #[error("refused by TLS policy: {0}")]
    TlsRefused(String),

    /// Relay `relay` refused our login, or offers no way to log in inside TLS.
    #[error("authentication refused: {message}")]
    AuthRefused { relay: String, message: String },

    /// The relay answered 4xx, a timeout or a network failure: try later.
    #[error("temporary failure: {0}")]
    Temporary(String),

    /// The relay answered 5xx: the message was not accepted.
    #[error("not accepted: {0}")]
    Unavailable(String),

    /// A relay password could not be obtained (the message never holds it).
    #[error("cannot get the password for relay {relay}: {reason}")]
    Secret { relay: String, reason: String },

    /// Well-formed input that uses an algorithm or parameter mailseal does
    /// not read (named in `what`), or that exceeds a documented limit.
    #[error("unsupported: {what}")]
    Unsupported { what: String, hint: String },

    /// A certificate or key file cannot be read as PEM or DER.
    #[error("bad certificate or key file: {0}")]
    CertificateFile(String),

    /// Opening the message as it is could mislead the reader or exhaust the
    /// machine (EFAIL framing, never-encrypted data, a decompression bomb);
    /// nothing was released.
    #[error("refusing to open the message: {reason}")]
    Refused { reason: String, hint: String },

    /// The message uses an algorithm that mailseal refuses by policy.
    #[error("refused by policy: {reason}")]
    AlgorithmRefused { reason: String, hint: String },

    /// Decrypted content that nothing authenticates (CBC enveloped-data
    /// without a good signature); it was not released.
    #[error("refusing unauthenticated content: {0}")]
    Unauthenticated(String),

    /// A copy that is not encrypted end to end would go to a domain whose
    /// inbound mail does not meet the recipient's `require_inbound`;
    /// nothing was sent.
    #[error("not sending to {recipient} without end-to-end encryption: {reason}")]
    InboundUnprotected { recipient: String, reason: String },

    /// An imported certificate claims an address that another stored
    /// certificate has; it was not imported.
    #[error("certificate {found} claims {address}, which stored certificate {stored} already has; {found} was not imported")]
    AddressConflict {
        address: String,
        stored: String,
        found: String,
    },
}

impl Error {
    /// The sysexits exit code a command should end with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Verification(_) => 1,
            Error::Usage(_) => 64,
            Error::Malformed(_) | Error::Integrity(_) => 65,
            Error::Unsupported { .. } | Error::CertificateFile(_) => 65,
            Error::InputMissing { .. } | Error::NotFound(_) => 66,
            Error::NoKey { .. } | Error::NoSecretKey(_) | Error::UnverifiedKey { .. } => 67,
            Error::KeyChanged { .. } | Error::InboundUnprotected { .. } => 77,
            Error::OpenPgp(_) => 70,
            Error::Io { .. } => 74,
            Error::Passphrase { .. } | Error::UnsafePermissions { .. } => 77,
            Error::Untrusted { .. } => 77,
            Error::Config { .. } | Error::Home { .. } | Error::Secret { .. } => 78,
            Error::Unavailable(_) => 69,
            Error::Temporary(_) => 75,
            Error::TlsRefused(_) | Error::AuthRefused { .. } => 77,
            Error::Refused { .. } => 65,
            Error::AlgorithmRefused { .. } => 77,
            Error::Unauthenticated(_) | Error::AddressConflict { .. } => 77,
        }
    }

    /// What the user can do next, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Usage(_) => "see `mailseal --help`".into(),
            Error::Malformed(_) => {
                "check that the input is a complete RFC 5322 message (headers, blank line, body)"
                    .into()
            }
            Error::InputMissing { .. } => "check the file name, or pipe the message on stdin".into(),
            Error::NoKey { recipient, .. } => format!(
                "import a certificate for {recipient} with `mailseal cert import FILE` (or find one with `mailseal cert locate {recipient}`), or leave them out with -r"
            ),
            Error::InboundUnprotected { recipient, .. } => format!(
                "import a certificate for {recipient} (`mailseal cert import FILE` or `mailseal cert locate {recipient}`), ask the domain to publish MTA-STS (enforce) or DANE, or leave them out with -r; `mailseal status {recipient}` shows what was checked"
            ),
            Error::KeyChanged { address, .. } => format!(
                "like SSH's changed host key: check the new fingerprint with {address} over another channel, then `mailseal cert locate --accept {address}` (or `mailseal cert import FILE`)"
            ),
            Error::UnverifiedKey { address, .. } => format!(
                "check the fingerprint with {address} over another channel, then `mailseal cert locate --accept {address}`"
            ),
            Error::NoSecretKey(_) => {
                "import the secret key with `mailseal key import FILE` (e.g. from `gpg --export-secret-keys`)"
                    .into()
            }
            Error::Integrity(_) => {
                "the message was modified or truncated in transit; ask the sender to send it again"
                    .into()
            }
            Error::Verification(_) => {
                "do not trust this message; if the signer is unknown, import their certificate with `mailseal cert import`"
                    .into()
            }
            Error::Passphrase { .. } => {
                "give the passphrase with --passphrase-file FILE (mode 0600), MAILSEAL_PASSPHRASE, the OS keyring, or run on a terminal"
                    .into()
            }
            Error::Untrusted { .. } => {
                "add the issuing root to smime.trust_anchors in config.toml, or ask the owner for a current certificate for this address"
                    .into()
            }
            Error::UnsafePermissions { path, .. } => {
                format!("run `chmod 600 {}` and try again", path.display())
            }
            Error::Config { .. } => {
                "fix the file; the keys it accepts are listed in the README under Configuration"
                    .into()
            }
            Error::Home { .. } => {
                "pass --home DIR or set MAILSEAL_HOME to a directory you own".into()
            }
            Error::NotFound(_) => "list what is there with `mailseal key list` or `mailseal cert list`".into(),
            Error::TlsRefused(_) => {
                "nothing was sent; check the relay's host, port and tls setting, its ca_file and pin, or whether something on the path strips STARTTLS"
                    .into()
            }
            Error::AuthRefused { relay, .. } => format!(
                "check username and password in [relay.{relay}]; `mailseal secret set {relay}` stores the password in the keyring"
            ),
            Error::Temporary(_) => "nothing was retried; send again later".into(),
            Error::Unavailable(_) => {
                "the relay's words above say why; fix the message or the addresses and send again"
                    .into()
            }
            Error::Secret { relay, .. } => format!(
                "set `password` in [relay.{relay}] to \"keyring\", \"env:VAR\" or \"command:PROGRAM ARGS\"; `mailseal secret set {relay}` stores one in the keyring"
            ),
            Error::Unsupported { hint, .. } => hint.clone(),
            Error::CertificateFile(_) => {
                "give X.509 certificates (and keys) as PEM (-----BEGIN CERTIFICATE-----) or DER, or a .p12 file; `openssl x509 -in FILE -noout -text` shows what a certificate file holds"
                    .into()
            }
            Error::Refused { hint, .. } | Error::AlgorithmRefused { hint, .. } => hint.clone(),
            Error::Unauthenticated(_) => {
                "anyone on the way could have changed it undetected; ask the sender to use AES-GCM (authEnveloped-data) or to sign, or pass --allow-unauthenticated to read it anyway"
                    .into()
            }
            Error::AddressConflict { stored, found, .. } => format!(
                "check with the owner which key is theirs; if {found} replaces {stored}, run `mailseal cert remove {stored}` and import again"
            ),
            Error::Io { .. } | Error::OpenPgp(_) => return None,
        })
    }

    /// An I/O error with a short description of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::OpenPgp(e)
    }
}
