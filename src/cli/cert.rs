//! `mailseal cert`: others' OpenPGP certificates.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use mailseal::discover::{Provenance, ProvenanceStore};
use mailseal::keys::{parse_certs, CertSummary};
use mailseal::output::Output;
use mailseal::{Error, Result};
use sequoia_openpgp::serialize::Serialize;

use super::{read_input, Context};

/// Manage others' certificates (the keys you encrypt to and verify with).
#[derive(Subcommand)]
pub enum Command {
    /// Import one or many certificates: OpenPGP (armored or binary, e.g.
    /// `gpg --export`) or X.509 for S/MIME (PEM, DER, PEM bundles).
    ///
    /// Examples:
    ///   gpg --export bob@example.net | mailseal cert import
    ///   mailseal cert import bob-smime.pem
    #[command(verbatim_doc_comment)]
    Import {
        /// The certificate file [default: stdin].
        file: Option<PathBuf>,
    },
    /// List the certificates in the store, with where discovered ones
    /// came from.
    List,
    /// Export the certificates for an address (or fingerprint), armored
    /// (OpenPGP) or PEM (X.509, when there is no OpenPGP certificate).
    Export {
        /// Address, fingerprint or key ID.
        id: String,
        /// Write to OUT instead of stdout.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    Locate(super::cert_locate::Args),
    /// Remove a certificate from the store.
    Remove {
        /// Fingerprint or key ID (an address when it matches exactly one);
        /// for X.509, the SHA-256 fingerprint (at least 8 hex digits).
        id: String,
    },
}

/// A listed certificate and its provenance.
#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    summary: CertSummary,
    provenance: Vec<Provenance>,
}

impl Listed {
    /// The summary, then one line per place the certificate was found.
    fn describe(&self) -> String {
        let mut text = self.summary.describe();
        for p in &self.provenance {
            text.push_str(&format!(
                "\n    found for {} via {}",
                p.address,
                p.describe()
            ));
        }
        text
    }
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    if let Command::Locate(args) = command {
        return super::cert_locate::run(context, args);
    }
    let mut store = context.cert_store()?;
    match command {
        Command::Import { file } => {
            let data = read_input(file.as_deref())?;
            if mailseal::smime::certs::looks_like_x509(&data) {
                return super::smime::import_certs_file(context, &data, file.as_deref());
            }
            let mut outcomes = Vec::new();
            for cert in parse_certs(&data)? {
                let outcome = store.insert(&cert)?;
                outcomes.push(serde_json::json!({
                    "fingerprint": cert.fingerprint().to_hex(),
                    "outcome": outcome,
                }));
                context.note(&format!("mailseal: {} {:?}", cert.fingerprint(), outcome));
            }
            store.save_index()?;
            if context.json {
                context.print_json(&outcomes)?;
            }
            Ok(0)
        }
        Command::List => {
            let provenance = ProvenanceStore::load(&context.home.provenance_file());
            let listed: Vec<Listed> = store
                .all()?
                .iter()
                .map(|cert| Listed {
                    summary: CertSummary::of(cert),
                    provenance: provenance.get(&cert.fingerprint().to_hex()).to_vec(),
                })
                .collect();
            let x509 = context.smime_certs();
            let smime: Vec<super::smime::X509Summary> = x509
                .all()?
                .iter()
                .map(|c| super::smime::X509Summary::of(c, None, x509.provenance(&c.fingerprint())))
                .collect();
            super::smime::print_lists(context, &listed, Listed::describe, &smime)?;
            Ok(0)
        }
        Command::Export { id, output } => {
            let found = store.find(&id)?;
            let x509: Vec<_> = context
                .smime_certs()
                .all()?
                .into_iter()
                .filter(|c| {
                    c.has_address(&id)
                        || (id.len() >= 8 && c.fingerprint().starts_with(&id.to_lowercase()))
                })
                .collect();
            if found.is_empty() && !x509.is_empty() {
                let mut out = Output::open(output.as_deref())?;
                for cert in &x509 {
                    out.write_all(cert.to_pem().as_bytes())
                        .map_err(|e| Error::io("writing the certificate", e))?;
                }
                out.commit()?;
                return Ok(0);
            }
            if found.is_empty() {
                return Err(Error::NotFound(format!("no certificate matches {id:?}")));
            }
            let mut out = Output::open(output.as_deref())?;
            for cert in &found {
                cert.armored().serialize(&mut out).map_err(Error::OpenPgp)?;
            }
            out.flush()
                .map_err(|e| Error::io("writing the certificate", e))?;
            out.commit()?;
            Ok(0)
        }
        Command::Locate(_) => unreachable!("handled above"),
        Command::Remove { id } => {
            if context.smime_certs().remove(&id)? {
                context.note(&format!("mailseal: removed X.509 certificate {id}"));
                return Ok(0);
            }
            let found = store.find(&id)?;
            match found.as_slice() {
                [cert] => {
                    store.remove(cert)?;
                    store.save_index()?;
                    ProvenanceStore::load(&context.home.provenance_file())
                        .forget(&cert.fingerprint().to_hex())?;
                    context.note(&format!("mailseal: removed {}", cert.fingerprint()));
                    Ok(0)
                }
                [] => Err(Error::NotFound(format!("no certificate matches {id:?}"))),
                _ => Err(Error::Usage(format!(
                    "{id:?} matches {} certificates: name one by fingerprint",
                    found.len()
                ))),
            }
        }
    }
}
