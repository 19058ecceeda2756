//! Planning and sealing a message: who the recipients are, which copies
//! go out (the visible recipients share one, every Bcc recipient gets its
//! own), and what each copy gets under `[policy]`: which technology, which
//! keys, who signs. OpenPGP and S/MIME: each copy uses the technology its
//! recipients all have keys for, `policy.prefer` deciding when both fit;
//! [`Sealer::copies`] splits visible recipients who need different
//! technologies into one copy per technology.

use sequoia_openpgp::cert::Cert;
use serde::Serialize;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::{Config, Protection, Technology};
use crate::discover::{Discovery, ProvenanceStore};
use crate::keys::last_used::{self, LastUsed};
use crate::keys::{normalize_address, CertStore, SecretKeys, Unlocker};
use crate::message::header::Field;
use crate::message::Headers;
use crate::openpgp::{self, EncryptOptions, RecipientKeys};
use crate::posture::level::{self, RecipientLevel};
use crate::posture::{Checker, InboundSummary};
use crate::{Error, Result};

mod sign;
pub use sign::Signed;

/// One recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address, as written.
    pub address: String,
    /// Named only in Bcc: must not be identifiable in the output.
    pub hidden: bool,
}

/// The recipients of a message: `explicit` (envelope recipients, such as
/// sendmail's arguments or the agent's RCPT TO) when given, else To, Cc
/// and Bcc. An envelope recipient that is not in To or Cc is a Bcc
/// recipient, whichever way it came (DESIGN §2.11). Duplicates are
/// dropped; a visible mention wins over Bcc.
pub fn recipients(headers: &Headers, explicit: &[String]) -> Vec<Recipient> {
    let visible = visible_addresses(headers);
    if explicit.is_empty() {
        let mut all = visible.clone();
        all.extend(headers.addresses("Bcc"));
        return envelope_recipients(&all, &visible);
    }
    envelope_recipients(explicit, &visible)
}

/// The addresses in To and Cc.
pub fn visible_addresses(headers: &Headers) -> Vec<String> {
    ["To", "Cc"]
        .iter()
        .flat_map(|name| headers.addresses(name))
        .collect()
}

/// `envelope` without duplicates, each hidden unless it is in `visible`
/// (addresses compared as [`normalize_address`] does).
pub fn envelope_recipients(envelope: &[String], visible: &[String]) -> Vec<Recipient> {
    let visible: Vec<String> = visible.iter().map(|a| normalize_address(a)).collect();
    let mut out: Vec<Recipient> = Vec::new();
    for address in envelope {
        let key = normalize_address(address);
        if !out.iter().any(|r| normalize_address(&r.address) == key) {
            out.push(Recipient {
                address: address.clone(),
                hidden: !visible.contains(&key),
            });
        }
    }
    out
}

/// Adds `Date` and `Message-ID` when the message lacks them, as a
/// submission server would (RFC 6409 §8): before sealing, so they are
/// inside the encryption and outside, and every copy of the message (Bcc
/// copies too) shares them. The Message-ID's domain is the sender's.
pub fn complete_headers(headers: &mut Headers, sender: &str) {
    let now = std::time::SystemTime::now();
    if headers.get("Date").is_none() {
        headers.push(Field::new("Date", &rfc5322_date(now)));
    }
    if headers.get("Message-ID").is_none() {
        let domain = sender
            .rsplit_once('@')
            .map(|(_, d)| d)
            .filter(|d| !d.is_empty())
            .unwrap_or("localhost");
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).expect("the OS random source works");
        let secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        headers.push(Field::new(
            "Message-ID",
            &format!("<{secs:x}.{hex}@{domain}>"),
        ));
    }
}

/// `time` as an RFC 5322 date in UTC: `Tue, 01 Dec 2026 06:43:56 +0000`.
pub(crate) fn rfc5322_date(time: std::time::SystemTime) -> String {
    // humantime gives `2026-12-01T06:43:56Z`; reorder it.
    let iso = humantime::format_rfc3339_seconds(time).to_string();
    let (date, clock) = iso
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or(("", ""));
    let mut parts = date.split('-');
    let (year, month, day) = (
        parts.next().unwrap_or("1970"),
        parts
            .next()
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(1),
        parts.next().unwrap_or("01"),
    );
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    format!(
        "{}, {day} {} {year} {clock} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1).min(11)]
    )
}

/// Candidate certificates for each recipient, from the store and from the
/// own keys `own` (so that writing to oneself works without importing one's
/// own certificate), and from key discovery when none of those is usable.
pub fn candidate_certs(
    store: &CertStore,
    own: &[Cert],
    discovery: Option<&Discovery>,
    address: &str,
) -> Result<Vec<Cert>> {
    let mut certs = store.by_address(address)?;
    for key in crate::keys::secret::matching(own, address)? {
        if !certs.iter().any(|c| c.fingerprint() == key.fingerprint()) {
            certs.push(key.clone().strip_secret_key_material());
        }
    }
    if let Some(discovery) = discovery {
        certs.extend(discovery.for_sealing(address, &certs));
    }
    Ok(certs)
}

/// The sender's own keys that may sign: the configured identity first,
/// else every own key with a user ID for `address`.
pub fn sender_keys(own: &[Cert], configured: Option<&str>, address: &str) -> Result<Vec<Cert>> {
    let query = configured.unwrap_or(address);
    Ok(crate::keys::secret::matching(own, query)?
        .into_iter()
        .cloned()
        .collect())
}

/// Splits `recipients` into copies: the visible recipients share one, and
/// every hidden (Bcc) recipient gets a copy of its own, so no copy names a
/// Bcc recipient.
pub fn copies(recipients: &[Recipient]) -> Vec<Vec<Recipient>> {
    let visible: Vec<Recipient> = recipients.iter().filter(|r| !r.hidden).cloned().collect();
    let mut groups = Vec::new();
    if !visible.is_empty() {
        groups.push(visible);
    }
    groups.extend(
        recipients
            .iter()
            .filter(|r| r.hidden)
            .map(|r| vec![r.clone()]),
    );
    groups
}

/// What a sealed copy got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sealing {
    #[serde(rename = "encrypted+signed")]
    EncryptedSigned,
    Encrypted,
    Signed,
    Plain,
}

impl Sealing {
    /// `encrypted+signed`, `encrypted`, `signed` or `plain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sealing::EncryptedSigned => "encrypted+signed",
            Sealing::Encrypted => "encrypted",
            Sealing::Signed => "signed",
            Sealing::Plain => "plain",
        }
    }
}

/// S/MIME keys for the [`Sealer`]: others' certificates, own identities
/// and trust anchors.
pub struct SmimeKeys {
    pub store: crate::keys::smime::CertStore,
    pub own: Vec<crate::smime::certs::OwnIdentity>,
    pub anchors: Vec<crate::smime::SmimeCert>,
}

impl SmimeKeys {
    /// Loads them from `home` under `config`.
    pub fn load(home: &crate::home::Home, config: &Config) -> Result<SmimeKeys> {
        Ok(SmimeKeys {
            store: crate::keys::smime::CertStore::new(&home.smime_cert_dir()),
            own: crate::keys::smime::OwnKeys::new(&home.smime_key_dir()).all()?,
            anchors: crate::smime::settings::trust_anchors(&config.smime)?,
        })
    }

    /// The view the S/MIME planner uses.
    pub fn keyring(&self) -> crate::smime::plan::Keyring<'_> {
        crate::smime::plan::Keyring {
            store: &self.store,
            own: &self.own,
            anchors: &self.anchors,
        }
    }
}

/// A copy that [`Sealer::seal_to`] wrote to a stream: its recipients and
/// protection.
#[derive(Debug)]
pub struct Sealed {
    pub recipients: Vec<Recipient>,
    pub sealing: Sealing,
    /// What sealed it; `None` for a plain copy.
    pub technology: Option<Technology>,
    /// What each recipient's copy gets, in `recipients`' order.
    pub levels: Vec<RecipientLevel>,
    /// How many keys (OpenPGP) or certificates (S/MIME) it is encrypted
    /// to, the sender's own included; 0 when not encrypted.
    pub encrypted_to: usize,
    /// The fingerprint of the key (or certificate) that signed it.
    pub signed_by: Option<String>,
}

/// Whether copies are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Signing {
    /// As `[policy] sign` says, when the sender has a key.
    #[default]
    Policy,
    /// Always: a sender without a signing key is an error.
    Require,
    /// Never.
    Never,
}

/// What a caller asks of its copies beyond `[policy]`: `mailseal encrypt`
/// requires encryption and may name the technology, the signing and the
/// S/MIME algorithms.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request {
    /// Encrypt every copy or fail, whatever the policy allows.
    pub require_encryption: bool,
    /// Only this technology (`None`: per recipient, `[policy] prefer`
    /// deciding when both fit).
    pub technology: Option<Technology>,
    pub signing: Signing,
    /// S/MIME content cipher instead of `[smime] content_cipher`.
    pub smime_cipher: Option<crate::smime::ContentCipher>,
    /// S/MIME key transport instead of `[smime] key_transport`.
    pub smime_transport: Option<crate::smime::KeyTransport>,
}

/// Seals copies of one sender's message under `[policy]`.
pub struct Sealer<'a> {
    config: &'a Config,
    unlocker: &'a Unlocker,
    store: &'a CertStore,
    discovery: Option<&'a Discovery>,
    sender: String,
    /// The sender's own keys: they sign, and are encrypted to (to self).
    sender_keys: Vec<Cert>,
    /// S/MIME, when enabled with [`Sealer::with_smime`].
    smime: Option<SmimeKeys>,
    /// Where keys came from, and the key each recipient's last copy used
    /// ([`Sealer::with_records`]): they decide the levels.
    provenance: ProvenanceStore,
    last_used: LastUsed,
    last_used_file: Option<PathBuf>,
    /// Where MTA-STS policies are cached (RFC 8461 §3.3).
    sts_cache_file: Option<PathBuf>,
    /// Recipient domains' inbound protection, checked once each.
    inbound: RefCell<HashMap<String, InboundSummary>>,
    request: Request,
    /// All own certificates, read once: candidates for their addresses,
    /// and they vouch for keys they certified.
    own_certs: Vec<Cert>,
}

impl<'a> Sealer<'a> {
    /// A sealer for messages from `sender`; `discovery` looks up keys the
    /// store lacks (None: store and own keys only).
    pub fn new(
        config: &'a Config,
        unlocker: &'a Unlocker,
        store: &'a CertStore,
        own: &'a SecretKeys,
        discovery: Option<&'a Discovery>,
        sender: &str,
    ) -> Result<Sealer<'a>> {
        // Read once: every copy's recipients and levels use them again.
        let own_certs = own.all()?;
        let sender_keys = sender_keys(&own_certs, config.openpgp_identity(sender), sender)?;
        Ok(Sealer {
            config,
            unlocker,
            store,
            discovery,
            sender: sender.to_string(),
            sender_keys,
            smime: None,
            provenance: ProvenanceStore::default(),
            last_used: LastUsed::default(),
            last_used_file: None,
            sts_cache_file: None,
            inbound: RefCell::new(HashMap::new()),
            request: Request::default(),
            own_certs,
        })
    }

    /// [`Sealer::new`] with what `home` holds besides: S/MIME keys and
    /// the key records ([`Sealer::with_smime`], [`Sealer::with_records`]).
    pub fn in_home(
        config: &'a Config,
        unlocker: &'a Unlocker,
        home: &crate::home::Home,
        store: &'a CertStore,
        own: &'a SecretKeys,
        discovery: Option<&'a Discovery>,
        sender: &str,
    ) -> Result<Sealer<'a>> {
        Ok(
            Sealer::new(config, unlocker, store, own, discovery, sender)?
                .with_smime(SmimeKeys::load(home, config)?)
                .with_records(home),
        )
    }

    /// Seals as `request` asks, within `[policy]`.
    pub fn with_request(mut self, request: Request) -> Sealer<'a> {
        self.request = request;
        self
    }

    /// The technology that one copy to all of `recipients` would use:
    /// the requested one, else S/MIME when every recipient has a valid
    /// S/MIME certificate and either `[policy] prefer` is `smime` or not
    /// every recipient has an OpenPGP key, else OpenPGP.
    pub fn technology_for(&self, recipients: &[Recipient]) -> Technology {
        if let Some(technology) = self.request.technology {
            return technology;
        }
        let smime = recipients.iter().all(|r| self.has_smime(&r.address));
        let prefer_smime = self.config.policy.prefer == Technology::Smime;
        if smime && (prefer_smime || !recipients.iter().all(|r| self.has_openpgp(&r.address))) {
            Technology::Smime
        } else {
            Technology::Openpgp
        }
    }

    /// Whether copies are signed when the sender can.
    fn wants_signature(&self) -> bool {
        match self.request.signing {
            Signing::Policy => self.config.policy.sign,
            Signing::Require => true,
            Signing::Never => false,
        }
    }

    /// The error when a signature is required and the sender has no key
    /// of `technology` to make it.
    fn no_signing_key(&self, technology: &str) -> Error {
        Error::NoKey {
            recipient: if self.sender.is_empty() {
                "the sender".into()
            } else {
                self.sender.clone()
            },
            reason: format!(
                "a signature is required (--sign) but there is no usable own {technology} signing key for this address"
            ),
        }
    }

    /// Reads the key records of `home` (provenance, the keys last used)
    /// so that each copy's level names where its key came from and
    /// whether it changed ([`Sealer::remember_keys`] updates them), and
    /// keeps MTA-STS policies for `require_inbound` in its cache.
    pub fn with_records(mut self, home: &crate::home::Home) -> Sealer<'a> {
        self.provenance = ProvenanceStore::load(&home.provenance_file());
        self.last_used_file = Some(home.last_used_keys_file());
        self.last_used = LastUsed::load(&home.last_used_keys_file());
        self.sts_cache_file = Some(home.mta_sts_cache_file());
        self
    }

    /// Remembers the keys of `levels` (of the copies sealed), for the
    /// "key changed" warning next time (nothing without
    /// [`Sealer::with_records`]).
    pub fn remember_keys<'l>(
        &self,
        levels: impl IntoIterator<Item = &'l RecipientLevel>,
    ) -> Result<()> {
        let Some(path) = &self.last_used_file else {
            return Ok(());
        };
        let used = levels.into_iter().filter_map(|l| {
            l.fingerprint
                .as_deref()
                .filter(|_| l.level.end_to_end())
                .map(|f| (l.address.as_str(), f))
        });
        last_used::record(path, used)
    }

    /// Lets copies go out as S/MIME too.
    pub fn with_smime(mut self, keys: SmimeKeys) -> Sealer<'a> {
        self.smime = Some(keys);
        self
    }

    fn has_openpgp(&self, address: &str) -> bool {
        candidate_certs(self.store, &self.own_certs, self.discovery, address)
            .map(|certs| openpgp::encryption_keys(address, &certs, false).is_ok())
            .unwrap_or(false)
    }

    fn has_smime(&self, address: &str) -> bool {
        self.smime
            .as_ref()
            .is_some_and(|s| s.keyring().encryption_cert(address).is_ok())
    }

    /// Like [`copies`], but visible recipients that cannot share one
    /// technology (some have only OpenPGP keys, others only S/MIME
    /// certificates) get one copy per technology: every copy still shows
    /// the same To and Cc, and goes on the wire only to its own recipients.
    pub fn copies(&self, recipients: &[Recipient]) -> Vec<Vec<Recipient>> {
        let mut out = Vec::new();
        for group in copies(recipients) {
            if group.len() < 2 || self.smime.is_none() || self.request.technology.is_some() {
                out.push(group);
                continue;
            }
            let pgp: Vec<bool> = group.iter().map(|r| self.has_openpgp(&r.address)).collect();
            let smime: Vec<bool> = group.iter().map(|r| self.has_smime(&r.address)).collect();
            if pgp.iter().all(|x| *x) || smime.iter().all(|x| *x) {
                out.push(group);
                continue;
            }
            let prefer_smime = self.config.policy.prefer == Technology::Smime;
            // Recipients who have the preferred technology go in the first
            // copy (with those who have neither, for the policy to judge);
            // those with only the other technology get the second.
            let (mut first, mut second) = (Vec::new(), Vec::new());
            for ((r, p), m) in group.into_iter().zip(pgp).zip(smime) {
                let (preferred, other) = if prefer_smime { (m, p) } else { (p, m) };
                if !preferred && other {
                    second.push(r);
                } else {
                    first.push(r);
                }
            }
            out.extend([first, second].into_iter().filter(|g| !g.is_empty()));
        }
        out
    }

    /// Seals `headers` + the rest of `body` (Bcc already removed) for the
    /// recipients of one copy and writes it to `out`, as a stream: memory
    /// stays flat at any size (a copy that is only signed is read twice,
    /// from a temporary file when it is large). The strictest policy among
    /// the recipients wins: require-encryption fails with
    /// [`crate::Error::NoKey`] unless every recipient has a usable key;
    /// encrypt-if-possible falls back to a signature (when the sender can
    /// sign and `[policy] sign` is on) or to the message as it is;
    /// sign-only signs when it can.
    pub fn seal_to<W: Write + Send + Sync>(
        &self,
        headers: &Headers,
        body: &mut dyn Read,
        group: Vec<Recipient>,
        out: &mut W,
    ) -> Result<Sealed> {
        let policy = &self.config.policy;
        let strictest = group
            .iter()
            .map(|r| policy.protection_for(&r.address))
            .max()
            .unwrap_or(policy.default);
        let strictest = if self.request.require_encryption {
            Protection::RequireEncryption
        } else {
            strictest
        };

        let wanted = self.request.technology;
        let prefer_smime = match wanted {
            Some(technology) => technology == Technology::Smime,
            None => policy.prefer == Technology::Smime,
        };
        if strictest >= Protection::EncryptIfPossible {
            let candidates: Vec<Vec<Cert>> = if wanted == Some(Technology::Smime) {
                Vec::new()
            } else {
                group
                    .iter()
                    .map(|r| {
                        candidate_certs(self.store, &self.own_certs, self.discovery, &r.address)
                    })
                    .collect::<Result<_>>()?
            };
            let keys: Result<Vec<RecipientKeys>> = match wanted {
                Some(Technology::Smime) => Err(Error::Usage(
                    "S/MIME was asked for: no OpenPGP keys are used".into(),
                )),
                _ => group
                    .iter()
                    .zip(&candidates)
                    .map(|(r, certs)| openpgp::encryption_keys(&r.address, certs, r.hidden))
                    .collect(),
            };
            let smime_certs: Option<Result<Vec<crate::smime::SmimeCert>>> = match wanted {
                Some(Technology::Openpgp) => None,
                _ => self.smime.as_ref().map(|s| {
                    group
                        .iter()
                        .map(|r| s.keyring().encryption_cert(&r.address))
                        .collect()
                }),
            };
            let smime_ok = matches!(smime_certs, Some(Ok(_)));
            if smime_ok && (prefer_smime || keys.is_err()) {
                let Some(Ok(certs)) = smime_certs else {
                    unreachable!()
                };
                return self.encrypt_smime(headers, body, certs, group, out);
            }
            match keys {
                Ok(keys) => return self.encrypt(headers, body, keys, group, out),
                Err(e) if strictest == Protection::RequireEncryption => {
                    // Name what was tried for S/MIME when it was the
                    // preferred technology.
                    return Err(match smime_certs {
                        Some(Err(s)) if prefer_smime => s,
                        _ => e,
                    });
                }
                Err(_) => {}
            }
        }
        // Not encrypted end to end: the recipients' require_inbound decide
        // whether it may go out at all.
        let inbound = self.check_inbound(&group)?;
        let unencrypted = |signed: bool| -> Vec<RecipientLevel> {
            group
                .iter()
                .zip(&inbound)
                .map(|(r, i)| {
                    let mut level = RecipientLevel::unencrypted(&r.address, signed, i.clone());
                    // Why there was no key, when a revoked one is stored.
                    let stored = candidate_certs(self.store, &self.own_certs, None, &r.address);
                    level.warnings = level::revoked_warnings(&stored.unwrap_or_default());
                    level
                })
                .collect()
        };
        if strictest >= Protection::SignOnly && self.wants_signature() {
            if let Some(key) = self.sender_key()? {
                let mut message = sign::rereadable(headers, body)?;
                let signed = self.sign_with(key, &mut message, out)?;
                return Ok(Sealed {
                    levels: unencrypted(true),
                    recipients: group,
                    sealing: Sealing::Signed,
                    technology: Some(signed.technology),
                    encrypted_to: 0,
                    signed_by: Some(signed.signed_by),
                });
            }
        }
        if self.request.signing == Signing::Require {
            return Err(self.no_signing_key("OpenPGP or S/MIME"));
        }
        write_copy(out, &[&headers.to_bytes(), b"\r\n"])?;
        std::io::copy(body, out).map_err(|e| Error::io("copying the message", e))?;
        Ok(Sealed {
            levels: unencrypted(false),
            recipients: group,
            sealing: Sealing::Plain,
            technology: None,
            encrypted_to: 0,
            signed_by: None,
        })
    }

    /// For a copy that is not encrypted end to end: each recipient's
    /// domain's inbound protection when `[policy.recipients]` asks for
    /// `require_inbound`, or [`Error::InboundUnprotected`] when it is not
    /// met (or could not be checked: fail closed).
    fn check_inbound(&self, group: &[Recipient]) -> Result<Vec<Option<InboundSummary>>> {
        let mut out = Vec::new();
        for r in group {
            let Some(required) = self.config.policy.require_inbound_for(&r.address) else {
                out.push(None);
                continue;
            };
            let domain = r
                .address
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            let summary = self
                .inbound
                .borrow_mut()
                .entry(domain.clone())
                .or_insert_with(|| {
                    let checker = Checker::new(self.config);
                    match &self.sts_cache_file {
                        Some(path) => checker.cached_in(path.clone()),
                        None => checker,
                    }
                    .inbound_summary(&domain)
                })
                .clone();
            if !summary.summary.is_some_and(|s| required.met_by(s)) {
                return Err(Error::InboundUnprotected {
                    recipient: r.address.clone(),
                    reason: format!(
                        "there is no usable key, and require_inbound = \"{}\" is not met: {}",
                        required.name(),
                        summary.describe()
                    ),
                });
            }
            out.push(Some(summary));
        }
        Ok(out)
    }

    fn encrypt_smime<W: Write>(
        &self,
        headers: &Headers,
        body: &mut dyn Read,
        mut certs: Vec<crate::smime::SmimeCert>,
        group: Vec<Recipient>,
        out: &mut W,
    ) -> Result<Sealed> {
        let policy = &self.config.policy;
        let smime = self.smime.as_ref().expect("called with S/MIME keys");
        let own = smime.keyring().own_identity(&self.sender).cloned();
        if let (true, Some(id)) = (policy.encrypt_to_self, &own) {
            if !certs.iter().any(|c| c.der == id.cert.der) {
                certs.push(id.cert.clone());
            }
        }
        if certs.is_empty() {
            return Err(Error::Usage(
                "there is no certificate to encrypt to: every recipient is in Bcc and there is no own certificate for the main copy; put a recipient in To or Cc".into(),
            ));
        }
        let signer = if self.wants_signature() { own } else { None };
        if signer.is_none() && self.request.signing == Signing::Require {
            return Err(self.no_signing_key("S/MIME"));
        }
        let addresses: Vec<String> = group.iter().map(|r| r.address.clone()).collect();
        let settings = &self.config.smime;
        let options = crate::smime::EncryptOptions {
            protect_headers: policy.protect_headers,
            cipher: match self.request.smime_cipher {
                Some(cipher) => cipher,
                None => crate::smime::settings::content_cipher(settings, &addresses)?,
            },
            transport: match self.request.smime_transport {
                Some(transport) => transport,
                None => crate::smime::settings::key_transport(settings)?,
            },
            rsa_signature: crate::smime::settings::rsa_signature(settings)?,
        };
        let now = SystemTime::now();
        let levels = group
            .iter()
            .zip(&certs)
            .map(|(r, cert)| {
                let last = self.last_used.get(&r.address);
                level::smime_level(&r.address, cert.fingerprint(), cert.validity().1, last, now)
            })
            .collect();
        crate::smime::seal_message(headers, body, &certs, signer.as_ref(), options, out)?;
        Ok(Sealed {
            encrypted_to: certs.len(),
            signed_by: signer.as_ref().map(|s| s.cert.fingerprint()),
            levels,
            recipients: group,
            sealing: if signer.is_some() {
                Sealing::EncryptedSigned
            } else {
                Sealing::Encrypted
            },
            technology: Some(Technology::Smime),
        })
    }

    fn encrypt<'k, W: Write + Send + Sync>(
        &'k self,
        headers: &Headers,
        body: &mut dyn Read,
        mut keys: Vec<RecipientKeys<'k>>,
        group: Vec<Recipient>,
        out: &mut W,
    ) -> Result<Sealed> {
        let policy = &self.config.policy;
        let now = SystemTime::now();
        let own = &self.own_certs;
        let levels = keys
            .iter()
            .map(|k| {
                let last = self.last_used.get(&k.address);
                level::openpgp_level(&k.address, k.cert, own, &self.provenance, last, now).0
            })
            .collect();
        if policy.encrypt_to_self {
            openpgp::add_encrypt_to_self(&mut keys, &self.sender, &self.sender_keys);
        }
        let signer = if self.wants_signature() {
            openpgp::signing_key(&self.sender_keys, self.unlocker)?
        } else {
            None
        };
        if signer.is_none() && self.request.signing == Signing::Require {
            return Err(self.no_signing_key("OpenPGP"));
        }
        let signed_by = signer.as_ref().map(|(cert, _)| cert.fingerprint().to_hex());
        let encrypted_to = keys.len();
        let sealing = if signer.is_some() {
            Sealing::EncryptedSigned
        } else {
            Sealing::Encrypted
        };
        openpgp::encrypt_message(
            headers,
            body,
            &keys,
            signer.map(|(_, pair)| pair),
            EncryptOptions {
                protect_headers: policy.protect_headers,
            },
            out,
        )?;
        Ok(Sealed {
            encrypted_to,
            signed_by,
            levels,
            recipients: group,
            sealing,
            technology: Some(Technology::Openpgp),
        })
    }
}

/// Writes the parts of a sealed copy to `out`.
fn write_copy(out: &mut impl Write, parts: &[&[u8]]) -> Result<()> {
    parts
        .iter()
        .try_for_each(|part| out.write_all(part))
        .map_err(|e| Error::io("writing the sealed message", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcc_recipients_are_hidden_unless_also_visible() {
        let headers = Headers::parse(b"To: a@x\nCc: B@y\nBcc: c@z, b@y\n").unwrap();
        let r = recipients(&headers, &[]);
        assert_eq!(
            r,
            vec![
                Recipient {
                    address: "a@x".into(),
                    hidden: false
                },
                Recipient {
                    address: "B@y".into(),
                    hidden: false
                },
                Recipient {
                    address: "c@z".into(),
                    hidden: true
                },
            ]
        );
    }

    #[test]
    fn envelope_recipients_not_in_to_or_cc_are_hidden() {
        let headers = Headers::parse(b"To: Bob <bob@example.net>\nBcc: dave@x\n").unwrap();
        let r = recipients(
            &headers,
            &[
                "BOB@example.net".into(),
                "carol@example.com".into(),
                "dave@x".into(),
            ],
        );
        let hidden: Vec<(&str, bool)> = r.iter().map(|r| (r.address.as_str(), r.hidden)).collect();
        assert_eq!(
            hidden,
            [
                ("BOB@example.net", false),
                ("carol@example.com", true),
                ("dave@x", true)
            ]
        );
    }

    #[test]
    fn date_and_message_id_are_added_only_when_missing() {
        let mut headers = Headers::parse(b"From: a@example.org\n").unwrap();
        complete_headers(&mut headers, "a@example.org");
        let id = headers.get("Message-ID").unwrap().value();
        assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
        let date = headers.get("Date").unwrap().value();
        assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
        let before = headers.to_bytes();
        complete_headers(&mut headers, "a@example.org");
        assert_eq!(headers.to_bytes(), before);
        assert_eq!(
            rfc5322_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_107_436)),
            "Tue, 01 Dec 2026 06:43:56 +0000"
        );
    }

    #[test]
    fn every_bcc_recipient_gets_a_copy_of_its_own() {
        let r = |address: &str, hidden| Recipient {
            address: address.into(),
            hidden,
        };
        let groups = copies(&[
            r("a@x", false),
            r("b@y", true),
            r("c@z", false),
            r("d@w", true),
        ]);
        assert_eq!(
            groups,
            vec![
                vec![r("a@x", false), r("c@z", false)],
                vec![r("b@y", true)],
                vec![r("d@w", true)],
            ]
        );
    }
}
