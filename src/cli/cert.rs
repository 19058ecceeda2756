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
    /// Import one or many certificates (armored or binary, e.g. `gpg --export`).
    ///
    /// Example: gpg --export bob@example.net | mailseal cert import
    Import {
        /// The certificate file [default: stdin].
        file: Option<PathBuf>,
    },
    /// List the certificates in the store, with where discovered ones
    /// came from.
    List,
    /// Export the certificates for an address (or fingerprint), armored.
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
        /// Fingerprint or key ID (an address when it matches exactly one).
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

pub fn run(context: &Context, command: Command) -> Result<u8> {
    if let Command::Locate(args) = command {
        return super::cert_locate::run(context, args);
    }
    let mut store = context.cert_store()?;
    match command {
        Command::Import { file } => {
            let data = read_input(file.as_deref())?;
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
            if context.json {
                context.print_json(&listed)?;
            } else {
                for l in &listed {
                    println!("{}", l.summary.describe());
                    for p in &l.provenance {
                        println!("    found for {} via {}", p.address, p.describe());
                    }
                }
            }
            Ok(0)
        }
        Command::Export { id, output } => {
            let found = store.find(&id)?;
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
