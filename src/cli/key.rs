//! `mailseal key`: own secret keys.

use std::io::Write;
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use mailseal::keys::{parse_certs, CertSummary};
use mailseal::output::Output;
use mailseal::{Error, Result};
use sequoia_openpgp::cert::{CertBuilder, CipherSuite};
use sequoia_openpgp::serialize::Serialize;
use sequoia_openpgp::types::{Features, KeyFlags};
use sequoia_openpgp::Profile;

use super::Context;

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
        /// OpenPGP version: rfc4880 (v4, announces SEIPDv1 only, so gpg 2.2
        /// reads mail to it) or rfc9580 (v6, SEIPDv2; gpg 2.2, rnp 0.16 and
        /// sq 0.27 cannot use it).
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
    /// Import secret keys from one or more files, e.g. from
    /// `gpg --export-secret-keys` (armored or binary), an S/MIME PKCS#12
    /// file (password as for passphrases), a PEM private key with its
    /// certificate chain, or the certificate a CA issued for a key made
    /// with `key generate --smime`. Each file is reported on its own; when
    /// one fails the others are still imported and the exit code is that
    /// of the first failure.
    ///
    /// Examples:
    ///   gpg --export-secret-keys alice@example.org | mailseal key import
    ///   mailseal key import alice.asc alice-work.pgp
    ///   mailseal --passphrase-file p12pass.txt key import alice.p12
    #[command(verbatim_doc_comment)]
    Import {
        /// Key files; `-` is stdin [default: stdin].
        files: Vec<PathBuf>,
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
                // A v4 key announces only what gpg 2.2 reads (SEIPDv1), so
                // mail to it stays readable when the key moves to gpg.
                .and_then(|b| match profile {
                    KeyProfile::Rfc4880 => b.set_features(Features::empty().set_seipdv1()),
                    KeyProfile::Rfc9580 => Ok(b),
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
        Command::Import { files } => super::cert::each_file(context, &files, |file, data| {
            if mailseal::smime::certs::looks_like_x509(data)
                || super::smime::looks_like_pkcs12(data)
            {
                return super::smime::import_key(context, data);
            }
            let certs = parse_certs(data)?;
            let secret = || certs.iter().filter(|c| c.is_tsk());
            for cert in certs.iter().filter(|c| !c.is_tsk()) {
                context.note(&format!(
                    "mailseal: {}: skipping {}: no secret key material (use `mailseal cert import` for certificates)",
                    file.display(),
                    cert.fingerprint()
                ));
            }
            if secret().next().is_none() {
                return Err(Error::Malformed(
                    "the input holds no secret key: to import someone's certificate use `mailseal cert import`"
                        .into(),
                ));
            }
            for cert in secret() {
                keys.insert(cert)?;
                context.note(&format!(
                    "mailseal: {}: imported secret key {}",
                    file.display(),
                    cert.fingerprint()
                ));
            }
            Ok(0)
        }),
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
