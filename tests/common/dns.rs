//! An in-process authoritative DNS server for discovery tests (hickory-
//! server), on 127.0.0.1 port 0 (UDP and TCP), serving one zone whose
//! records are DNSSEC-signed with a fresh Ed25519 test key, unsigned, or
//! signed with a key the client does not trust. It lives at most a minute.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::dnssec::crypto::Ed25519SigningKey;
use hickory_server::proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_server::proto::dnssec::{DnssecSigner, SigningKey};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{NS, OPENPGPKEY, SMIMEA, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;

/// How the zone is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Signed with the key written to the trust anchor file.
    Trusted,
    /// Not signed at all.
    Unsigned,
    /// Signed with a key other than the trusted one.
    WrongKey,
}

/// A running DNS server.
pub struct Dns {
    pub port: u16,
    /// DNSKEY records to pass as `discovery.dnssec_trust_anchor`.
    pub trust_anchor: PathBuf,
    _dir: tempfile::TempDir,
}

/// A record to serve: (owner name, data).
pub type Entry = (String, RData);

/// OPENPGPKEY data.
pub fn openpgpkey(key: &[u8]) -> RData {
    RData::OPENPGPKEY(OPENPGPKEY::new(key.to_vec()))
}

/// SMIMEA data.
pub fn smimea(usage: u8, selector: u8, matching: u8, data: &[u8]) -> RData {
    RData::SMIMEA(SMIMEA::new(
        CertUsage::from(usage),
        Selector::from(selector),
        Matching::from(matching),
        data.to_vec(),
    ))
}

fn signing_key() -> (Ed25519SigningKey, DNSKEY) {
    let key = Ed25519SigningKey::from_pkcs8(&Ed25519SigningKey::generate_pkcs8().unwrap()).unwrap();
    let public = key.to_public_key().unwrap();
    let dnskey = DNSKEY::from_key(&public);
    (key, dnskey)
}

/// One zone to serve: its origin (e.g. `example.org.`), records and signing.
pub struct Zone {
    pub origin: String,
    pub records: Vec<Entry>,
    pub signing: Signing,
}

/// The handler of one zone, and its DNSKEY when the trust anchor is to
/// list it.
fn zone_handler(zone: Zone) -> (InMemoryZoneHandler<TokioRuntimeProvider>, Option<Record>) {
    let origin = Name::from_ascii(&zone.origin).unwrap();
    let (trusted_key, trusted_dnskey) = signing_key();
    let anchor = (zone.signing == Signing::Trusted).then(|| {
        Record::from_rdata(
            origin.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(trusted_dnskey.clone())),
        )
    });
    let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        None,
    );
    let serial = 1;
    let ns = Name::from_ascii(format!("ns.{}", zone.origin)).unwrap();
    let soa = SOA::new(
        ns.clone(),
        Name::from_ascii(format!("hostmaster.{}", zone.origin)).unwrap(),
        serial,
        3600,
        600,
        86400,
        60,
    );
    handler.upsert_mut(
        Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)),
        serial,
    );
    handler.upsert_mut(
        Record::from_rdata(origin.clone(), 3600, RData::NS(NS(ns))),
        serial,
    );
    for (name, data) in zone.records {
        let name = Name::from_ascii(&name).unwrap();
        handler.upsert_mut(Record::from_rdata(name, 300, data), serial);
    }
    let signer = match zone.signing {
        Signing::Unsigned => None,
        Signing::Trusted => Some((trusted_key, trusted_dnskey)),
        Signing::WrongKey => Some(signing_key()),
    };
    if let Some((key, dnskey)) = signer {
        let signer = DnssecSigner::new(
            dnskey,
            Box::new(key),
            origin.clone(),
            Duration::from_secs(86_400),
        );
        handler.add_zone_signing_key_mut(signer).unwrap();
        handler.secure_zone_mut().unwrap();
    }
    (handler, anchor)
}

impl Dns {
    /// Serves `zone` (e.g. `example.org.`) with `records`; the trust
    /// anchor names the zone's key whatever the signing (so an unsigned
    /// copy is bogus, not insecure).
    pub fn start(zone: &str, records: Vec<Entry>, signing: Signing) -> Dns {
        Dns::start_zones(
            vec![Zone {
                origin: zone.to_string(),
                records,
                signing,
            }],
            true,
        )
    }

    /// Serves several zones. The trust anchor lists the key of each
    /// [`Signing::Trusted`] zone; with `anchor_all`, every zone gets a
    /// trusted key in the anchor file (signed with it or not).
    pub fn start_zones(zones: Vec<Zone>, anchor_all: bool) -> Dns {
        let dir = tempfile::tempdir().unwrap();
        let mut anchors = String::new();
        let mut catalog = Catalog::new();
        for zone in zones {
            let origin = Name::from_ascii(&zone.origin).unwrap();
            let (handler, anchor) = zone_handler(zone);
            let anchor = anchor.or_else(|| {
                anchor_all.then(|| {
                    let (_, dnskey) = signing_key();
                    Record::from_rdata(
                        origin.clone(),
                        3600,
                        RData::DNSSEC(DNSSECRData::DNSKEY(dnskey)),
                    )
                })
            });
            if let Some(anchor) = anchor {
                anchors.push_str(&format!("{anchor}\n"));
            }
            catalog.upsert(
                LowerName::new(&origin),
                vec![Arc::new(handler) as Arc<dyn ZoneHandler>],
            );
        }
        let trust_anchor = dir.path().join("trust-anchor.txt");
        std::fs::write(&trust_anchor, anchors).unwrap();

        // UDP and TCP on the same port.
        let (udp, tcp) = loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let port = udp.local_addr().unwrap().port();
        udp.set_nonblocking(true).unwrap();
        tcp.set_nonblocking(true).unwrap();
        crate::common::spawn_server(Duration::from_secs(60), move || async move {
            let mut server = Server::new(catalog);
            server.register_socket(tokio::net::UdpSocket::from_std(udp).unwrap());
            server.register_listener(
                tokio::net::TcpListener::from_std(tcp).unwrap(),
                Duration::from_secs(5),
                1 << 16,
            );
            let _ = server.block_until_done().await;
        });
        Dns {
            port,
            trust_anchor,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, for `network.nameservers`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
