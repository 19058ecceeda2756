//! The S/MIME side of the message commands: reporting and releasing what
//! `decrypt` opened, and importing keys and certificates (the library's
//! Opener decrypts and verifies, its Sealer encrypts and signs, as for
//! OpenPGP).

use mailseal::keys;
use mailseal::output::Output;
use mailseal::smime;
use mailseal::smime::certs::{OwnIdentity, SmimeCert};
use mailseal::{Error, Result};

use super::Context;

/// Stores the certificates of verified signatures (`--import-certs`).
pub fn import_certs(context: &Context, certs: &[SmimeCert]) -> Result<()> {
    let store = context.smime_certs();
    let own = context.smime_keys().all()?;
    for cert in certs {
        if own.iter().any(|id| id.cert.der == cert.der) {
            continue;
        }
        let (_, new) = store.insert_der(
            &cert.der,
            &keys::smime::Provenance {
                method: "message".into(),
                source: "a signed message that verified".into(),
                time: keys::smime::now_rfc3339(),
            },
        )?;
        if new {
            context.note(&format!(
                "mailseal: imported certificate {} ({})",
                cert.fingerprint(),
                cert.subject()
            ));
        }
    }
    Ok(())
}

/// `decrypt` for S/MIME: writes the decrypted message when it may be
/// released, and reports; exits 1 when a signature is not good (bad,
/// unknown, or covering only part of the message), after writing.
pub fn release(
    context: &Context,
    mut stream: smime::stream::OpenedStream,
    output: Option<&std::path::Path>,
    import: bool,
    allow_unauthenticated: bool,
) -> Result<u8> {
    if let Err(e) = stream.check_release(allow_unauthenticated) {
        if matches!(e, Error::Unauthenticated(_)) {
            super::verify::report(context, &stream.opened.signatures, true)?;
        }
        return Err(e);
    }
    let mut out = Output::open(output)?;
    stream
        .write_to(&mut out)
        .map_err(|e| Error::io("writing the decrypted message", e))?;
    out.commit()?;
    let opened = &stream.opened;
    if import {
        import_certs(context, &opened.certificates)?;
    }
    let protection = if opened.integrity_protected {
        "integrity-protected"
    } else {
        "not integrity-protected"
    };
    if !opened.integrity_protected {
        context.note(
            "mailseal: WARNING: not integrity-protected: the encryption is enveloped-data (CBC), so anyone on the way could have changed the content undetected",
        );
    }
    if opened.signatures.is_empty() {
        context.note("mailseal: the message was not signed: nothing proves who sent it");
    }
    if context.json && output.is_some() {
        context.print_json(&serde_json::json!({
            "signatures": opened.signatures,
            "protection": protection,
        }))?;
    } else {
        if context.json {
            eprintln!("{}", serde_json::json!({ "protection": protection }));
        }
        super::verify::report(context, &opened.signatures, true)?;
    }
    let all_good = opened.signatures.iter().all(|s| s.is_good());
    Ok(if all_good { 0 } else { 1 })
}

/// What `key list` and `cert list` show about an X.509 certificate; the
/// field names match the OpenPGP entries where they mean the same.
#[derive(serde::Serialize)]
pub struct X509Summary {
    pub technology: &'static str,
    pub fingerprint: String,
    pub user_ids: Vec<String>,
    pub subject: String,
    pub issuer: String,
    pub algorithm: String,
    pub created: String,
    pub expires: Option<String>,
    pub status: String,
    pub secret: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<keys::smime::Provenance>,
}

impl X509Summary {
    pub fn of(
        cert: &SmimeCert,
        secret_algorithm: Option<String>,
        provenance: Option<keys::smime::Provenance>,
    ) -> X509Summary {
        let (not_before, not_after) = cert.validity();
        let now = std::time::SystemTime::now();
        let time = |t| humantime::format_rfc3339_seconds(t).to_string();
        let algorithm = secret_algorithm.unwrap_or_else(|| match cert.public_key() {
            Ok(smime::certs::PublicKey::Rsa(k)) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA {} bits", k.n().bits())
            }
            Ok(smime::certs::PublicKey::P256(_)) => "ECDSA/ECDH P-256".into(),
            Err(e) => format!("unusable: {e}"),
        });
        X509Summary {
            technology: "smime",
            fingerprint: cert.fingerprint(),
            user_ids: cert.addresses(),
            subject: cert.subject(),
            issuer: cert.issuer(),
            secret: algorithm_is_secret(&provenance, true),
            algorithm,
            created: time(not_before),
            expires: Some(time(not_after)),
            status: if now > not_after {
                "expired".into()
            } else if now < not_before {
                "not yet valid".into()
            } else {
                "valid".into()
            },
            provenance,
        }
    }

    pub fn describe(&self) -> String {
        let mut text = mailseal::keys::summary_line(
            &self.fingerprint,
            &format!("X.509 {}", self.algorithm),
            &self.created,
            self.expires.as_deref(),
            &self.status,
        );
        if self.secret {
            text.push_str(" (secret key)");
        }
        text.push_str(&format!(
            "\n    subject {}\n    issuer  {}",
            self.subject, self.issuer
        ));
        for address in &self.user_ids {
            text.push_str(&format!("\n    {address}"));
        }
        if let Some(p) = &self.provenance {
            text.push_str(&format!(
                "\n    from {} ({}, {})",
                p.source, p.method, p.time
            ));
        }
        text
    }
}

/// Own keys have no provenance note; others' certificates do.
fn algorithm_is_secret(provenance: &Option<keys::smime::Provenance>, own_if_none: bool) -> bool {
    provenance.is_none() && own_if_none
}

/// Whether `data` is a PKCS#12 file (a DER SEQUENCE starting with
/// version 3).
pub fn looks_like_pkcs12(data: &[u8]) -> bool {
    // SEQUENCE, length, INTEGER 3
    let skip = match data.get(1) {
        Some(l) if *l < 0x80 => 2,
        Some(l) => 2 + (*l & 0x7f) as usize,
        None => return false,
    };
    data.first() == Some(&0x30) && data.get(skip..skip + 3) == Some(&[0x02, 0x01, 0x03])
}

/// `key import` of a PEM key with its certificate chain, a PKCS#12 file,
/// or (without a key) the certificate a CA issued for an own key.
pub fn import_key(context: &Context, data: &[u8]) -> Result<u8> {
    let has_key = smime::certs::pem_blocks(data)
        .map(|b| b.iter().any(|(l, _)| l.ends_with("PRIVATE KEY")))
        .unwrap_or(false);
    if !has_key && !looks_like_pkcs12(data) {
        let certs = smime::certs::parse_certs(data)?;
        for mut identity in context.smime_keys().all()? {
            if let Some(position) = certs.iter().position(|c| identity.key.matches(c)) {
                let old = identity.cert.fingerprint();
                let mut chain = certs.clone();
                identity.cert = chain.remove(position);
                identity.chain = chain;
                context.smime_keys().insert(&identity)?;
                if old != identity.cert.fingerprint() {
                    context.smime_keys().remove(&old)?;
                }
                context.note(&format!(
                    "mailseal: certificate {} ({}) now goes with own key for {}",
                    identity.cert.fingerprint(),
                    identity.cert.issuer(),
                    identity.cert.addresses().join(", ")
                ));
                return Ok(0);
            }
        }
        return Err(Error::Malformed(
            "the input holds certificates but no private key, and none belongs to an own key: others' certificates go to `mailseal cert import`".into(),
        ));
    }
    let (key, certs) = if looks_like_pkcs12(data) {
        let password = pkcs12_password(context)?;
        smime::pkcs12::parse(data, &password)?
    } else {
        let key = smime::OwnKey::parse(data).map_err(|e| match e {
            Error::CertificateFile(m) if m.contains("cannot read the private key") => Error::CertificateFile(format!(
                "{m}; `key import` wants a private key with its certificate (PEM), or a .p12 file; others' certificates go to `mailseal cert import`"
            )),
            other => other,
        })?;
        (key, smime::certs::parse_certs(data)?)
    };
    let Some(position) = certs.iter().position(|c| key.matches(c)) else {
        return Err(Error::Malformed(
            "none of the certificates in the input belongs to the private key".into(),
        ));
    };
    let mut chain = certs;
    let cert = chain.remove(position);
    let identity = OwnIdentity { key, cert, chain };
    context.smime_keys().insert(&identity)?;
    context.note(&format!(
        "mailseal: imported S/MIME key {} for {}",
        identity.cert.fingerprint(),
        identity.cert.addresses().join(", ")
    ));
    if context.json {
        context.print_json(&X509Summary::of(
            &identity.cert,
            Some(identity.key.algorithm()),
            None,
        ))?;
    }
    Ok(0)
}

/// The PKCS#12 password, from the same sources as key passphrases.
fn pkcs12_password(context: &Context) -> Result<zeroize::Zeroizing<String>> {
    context.unlocker.secret_for("pkcs12", "PKCS#12 file")
}

/// `cert import` of X.509 certificates (PEM, DER, bundles).
pub fn import_certs_file(
    context: &Context,
    data: &[u8],
    file: Option<&std::path::Path>,
) -> Result<u8> {
    let store = context.smime_certs();
    let mut outcomes = Vec::new();
    let source = file
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "stdin".into());
    for cert in smime::certs::parse_certs(data)? {
        let (_, new) = store.insert_der(
            &cert.der,
            &keys::smime::Provenance {
                method: "import".into(),
                source: source.clone(),
                time: keys::smime::now_rfc3339(),
            },
        )?;
        context.note(&format!(
            "mailseal: {} {} ({})",
            cert.fingerprint(),
            if new { "New" } else { "Unchanged" },
            cert.subject()
        ));
        outcomes.push(serde_json::json!({
            "fingerprint": cert.fingerprint(),
            "outcome": if new { "New" } else { "Unchanged" },
            "technology": "smime",
            "addresses": cert.addresses(),
        }));
    }
    if context.json {
        context.print_json(&outcomes)?;
    }
    Ok(0)
}

/// `key generate --smime`: a P-256 key, a self-signed certificate (kept as
/// the key's certificate until a CA's is imported) and a CSR.
pub fn generate(
    context: &Context,
    address: &str,
    name: Option<&str>,
    csr_file: Option<&std::path::Path>,
) -> Result<u8> {
    use std::io::Write;
    if !address.contains('@') {
        return Err(Error::Usage(format!(
            "{address:?} is not an e-mail address"
        )));
    }
    let generated = smime::generate::self_signed(address, name)?;
    context.smime_keys().insert(&generated.identity)?;
    let mut out = Output::open(csr_file)?;
    out.write_all(generated.csr_pem.as_bytes())
        .map_err(|e| Error::io("writing the CSR", e))?;
    out.commit()?;
    context.note(&format!(
        "mailseal: made S/MIME key {} for {address} with a self-signed certificate; send the CSR to your CA and import its answer with `mailseal key import`",
        generated.identity.cert.fingerprint()
    ));
    Ok(0)
}

/// Prints OpenPGP and X.509 summaries: one JSON array with both, or one
/// description each for people.
pub fn print_lists<T: serde::Serialize>(
    context: &Context,
    openpgp: &[T],
    describe: impl Fn(&T) -> String,
    smime: &[X509Summary],
) -> Result<()> {
    if context.json {
        let mut all: Vec<serde_json::Value> = openpgp
            .iter()
            .map(|s| serde_json::to_value(s).expect("serializable"))
            .collect();
        all.extend(
            smime
                .iter()
                .map(|s| serde_json::to_value(s).expect("serializable")),
        );
        return context.print_json(&all);
    }
    for s in openpgp {
        println!("{}", describe(s));
    }
    for s in smime {
        println!("{}", s.describe());
    }
    Ok(())
}
