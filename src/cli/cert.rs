//! `mailseal cert`: others' OpenPGP certificates.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use mailseal::discover::{Provenance, ProvenanceStore};
use mailseal::keys::{check_supported, parse_certs, CertSummary};
use mailseal::output::Output;
use mailseal::{Error, Result};
use sequoia_openpgp::serialize::Serialize;

use super::{read_input, Context};

/// Manage others' certificates (the keys you encrypt to and verify with).
#[derive(Subcommand)]
pub enum Command {
    /// Import certificates from one or more files: OpenPGP (armored or
    /// binary, e.g. `gpg --export`) or X.509 for S/MIME (PEM, DER, PEM
    /// bundles). Each file is reported on its own; when one fails the
    /// others are still imported and the exit code is that of the first
    /// failure. With --json, one JSON array per file.
    ///
    /// Examples:
    ///   gpg --export bob@example.net | mailseal cert import
    ///   mailseal cert import bob.asc carol.pem dave.crt
    ///   gpg --export bob@example.net | mailseal cert import carol.pem -
    #[command(verbatim_doc_comment)]
    Import {
        /// Certificate files; `-` is stdin [default: stdin].
        files: Vec<PathBuf>,
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

/// Runs `import` on each of `files` (stdin when there are none; `-` is
/// stdin), reporting a failed file and going on with the next. The result
/// is that of the first failure, after every file was tried.
pub fn each_file(
    context: &Context,
    files: &[PathBuf],
    mut import: impl FnMut(&Path, &[u8]) -> Result<u8>,
) -> Result<u8> {
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(Error::Usage("`-` (stdin) can be named only once".into()));
    }
    let mut failures = Vec::new();
    for file in files {
        let result = read_input(Some(file)).and_then(|data| import(file, &data));
        if let Err(e) = result {
            if files.len() == 1 {
                return Err(e);
            }
            context.note(&format!("mailseal: {}: {e}", file.display()));
            failures.push((file.display().to_string(), e));
        }
    }
    match failures.len() {
        0 => Ok(0),
        1 => Err(failures.remove(0).1),
        n => {
            let names: Vec<&str> = failures.iter().map(|(f, _)| f.as_str()).collect();
            context.note(&format!(
                "mailseal: {n} of {} files failed: {}",
                files.len(),
                names.join(", ")
            ));
            Err(failures.remove(0).1)
        }
    }
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    if let Command::Locate(args) = command {
        return super::cert_locate::run(context, args);
    }
    let mut store = context.cert_store()?;
    match command {
        Command::Import { files } => each_file(context, &files, |file, data| {
            if mailseal::smime::certs::looks_like_x509(data) {
                return super::smime::import_certs_file(context, data, Some(file));
            }
            let mut outcomes = Vec::new();
            let mut refused = None;
            for cert in &parse_certs(data)? {
                if let Err(e) = check_supported(cert) {
                    context.note(&format!("mailseal: {}: {e}", file.display()));
                    refused.get_or_insert(e);
                    continue;
                }
                let outcome = store.insert(cert)?;
                outcomes.push(serde_json::json!({
                    "fingerprint": cert.fingerprint().to_hex(),
                    "outcome": outcome,
                }));
                context.note(&format!(
                    "mailseal: {}: {} {:?}",
                    file.display(),
                    cert.fingerprint(),
                    outcome
                ));
            }
            store.save_index()?;
            if context.json {
                context.print_json(&outcomes)?;
            }
            refused.map_or(Ok(0), Err)
        }),
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
