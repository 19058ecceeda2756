//! `mailseal key`: own secret keys.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use mailseal::keys::{parse_certs, CertSummary};
use mailseal::output::Output;
use mailseal::{Error, Result};
use sequoia_openpgp::cert::{CertBuilder, CipherSuite};
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::KeyFlags;
use sequoia_openpgp::Profile;

use super::{read_input, Context};

/// Manage your own secret keys (OpenPGP, and S/MIME keys with certificates).
#[derive(Subcommand)]
pub enum Command {
    /// Generate a key for ADDR (Ed25519/X25519 unless --algo says otherwise).
    ///
    /// With --passphrase-file the key is protected with that passphrase.
    /// With --smime: a P-256 key with a self-signed certificate (for
    /// testing), and a certificate signing request for a CA on stdout (or
    /// in --csr FILE); import the CA's certificate later with `key import`.
    ///
    /// Examples:
    ///   mailseal key generate alice@example.org
    ///   mailseal --passphrase-file pass.txt key generate alice@example.org --algo rsa3072
    ///   mailseal key generate alice@example.org --smime --csr alice.csr
    #[command(verbatim_doc_comment)]
    Generate {
        /// The address the key is for.
        address: String,
        /// Key algorithm.
        #[arg(long, value_enum, default_value_t = Algorithm::Cv25519)]
        algo: Algorithm,
        /// OpenPGP version: rfc4880 (v4, read by gpg 2.2) or rfc9580 (v6).
        #[arg(long, value_enum, default_value_t = KeyProfile::Rfc4880)]
        profile: KeyProfile,
        /// A display name for the user ID ("Alice <alice@example.org>").
        #[arg(long)]
        name: Option<String>,
        /// Make an S/MIME key (P-256), a CSR and a self-signed certificate.
        #[arg(long, conflicts_with_all = ["algo", "profile"])]
        smime: bool,
        /// With --smime: write the CSR to FILE instead of stdout.
        #[arg(long, value_name = "FILE", requires = "smime")]
        csr: Option<PathBuf>,
    },
    /// Import secret keys, e.g. from `gpg --export-secret-keys` (armored or
    /// binary), an S/MIME PKCS#12 file (password as for passphrases), a PEM
    /// private key with its certificate chain, or the certificate a CA
    /// issued for a key made with `key generate --smime`.
    ///
    /// Examples:
    ///   gpg --export-secret-keys alice@example.org | mailseal key import
    ///   mailseal --passphrase-file p12pass.txt key import alice.p12
    #[command(verbatim_doc_comment)]
    Import {
        /// The key file [default: stdin].
        file: Option<PathBuf>,
    },
    /// List your secret keys.
    List,
    /// Export a secret key (or with --public its certificate), armored.
    ///
    /// Example: mailseal key export alice@example.org --public > alice.asc
    Export {
        /// Fingerprint, key ID or address.
        id: String,
        /// Export only the public certificate, to give to correspondents.
        #[arg(long)]
        public: bool,
        /// Write to OUT instead of stdout.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
}

/// Key algorithms `key generate` offers.
#[derive(Clone, Copy, ValueEnum)]
pub enum Algorithm {
    /// Ed25519 signing, X25519 encryption.
    Cv25519,
    /// RSA 3072 (slower; RSA has a timing advisory, see SECURITY.md).
    Rsa3072,
}

/// OpenPGP key versions.
#[derive(Clone, Copy, ValueEnum)]
pub enum KeyProfile {
    Rfc4880,
    Rfc9580,
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    let keys = context.secret_keys();
    match command {
        Command::Generate {
            address,
            algo,
            profile,
            name,
            smime,
            csr,
        } => {
            if smime {
                return super::smime::generate(context, &address, name.as_deref(), csr.as_deref());
            }
            if !address.contains('@') {
                return Err(Error::Usage(format!(
                    "{address:?} is not an e-mail address"
                )));
            }
            let user_id = match name {
                Some(name) => format!("{name} <{address}>"),
                None => format!("<{address}>"),
            };
            let password = context.unlocker.passphrase_from_file()?;
            let (cert, _) = CertBuilder::new()
                .set_cipher_suite(match algo {
                    Algorithm::Cv25519 => CipherSuite::Cv25519,
                    Algorithm::Rsa3072 => CipherSuite::RSA3k,
                })
                .set_profile(match profile {
                    KeyProfile::Rfc4880 => Profile::RFC4880,
                    KeyProfile::Rfc9580 => Profile::RFC9580,
                })
                .map_err(Error::OpenPgp)?
                .add_userid(user_id)
                .add_signing_subkey()
                .add_subkey(
                    KeyFlags::empty()
                        .set_transport_encryption()
                        .set_storage_encryption(),
                    None,
                    None,
                )
                .set_password(password)
                .generate()
                .map_err(Error::OpenPgp)?;
            keys.insert(&cert)?;
            if context.json {
                context.print_json(&CertSummary::of(&cert))?;
            } else {
                println!("{}", CertSummary::of(&cert).describe());
            }
            Ok(0)
        }
        Command::Import { file } => {
            let data = read_input(file.as_deref())?;
            if mailseal::smime::certs::looks_like_x509(&data)
                || super::smime::looks_like_pkcs12(&data)
            {
                return super::smime::import_key(context, &data);
            }
            let mut imported = 0;
            for cert in parse_certs(&data)? {
                if !cert.is_tsk() {
                    context.note(&format!(
                        "mailseal: skipping {}: no secret key material (use `mailseal cert import` for certificates)",
                        cert.fingerprint()
                    ));
                    continue;
                }
                keys.insert(&cert)?;
                imported += 1;
                context.note(&format!(
                    "mailseal: imported secret key {}",
                    cert.fingerprint()
                ));
            }
            if imported == 0 {
                return Err(Error::Malformed(
                    "the input holds no secret key: to import someone's certificate use `mailseal cert import`"
                        .into(),
                ));
            }
            Ok(0)
        }
        Command::List => {
            let summaries: Vec<CertSummary> = keys.all()?.iter().map(CertSummary::of).collect();
            let smime: Vec<super::smime::X509Summary> = context
                .smime_keys()
                .all()?
                .iter()
                .map(|id| super::smime::X509Summary::of(&id.cert, Some(id.key.algorithm()), None))
                .collect();
            super::smime::print_lists(context, &summaries, CertSummary::describe, &smime)?;
            Ok(0)
        }
        Command::Export { id, public, output } => {
            let found = keys.find(&id)?;
            if found.is_empty() {
                return Err(Error::NotFound(format!("no own key matches {id:?}")));
            }
            let mut out = Output::open(output.as_deref())?;
            for cert in &found {
                let written = if public {
                    cert.armored().serialize(&mut out)
                } else {
                    cert.as_tsk().armored().serialize(&mut out)
                };
                written.map_err(Error::OpenPgp)?;
            }
            out.flush().map_err(|e| Error::io("writing the key", e))?;
            out.commit()?;
            Ok(0)
        }
    }
}
