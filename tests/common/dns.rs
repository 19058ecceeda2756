//! An in-process authoritative DNS server for discovery tests (hickory-
//! server), on 127.0.0.1 port 0 (UDP and TCP), serving zones whose
//! records are DNSSEC-signed with a fresh Ed25519 test key, unsigned, or
//! signed with a key the client does not trust; a zone inside another is
//! delegated from it without DS records (an insecure delegation when the
//! parent is signed). It lives at most a minute.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::dnssec::crypto::Ed25519SigningKey;
use hickory_server::proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_server::proto::dnssec::{DnssecSigner, SigningKey};
use hickory_server::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_server::proto::rr::rdata::{NS, OPENPGPKEY, SMIMEA, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::proto::rr::{RecordType, TSigResponseContext};
use hickory_server::server::{Request, RequestInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupOptions, Nsec3QueryInfo, ZoneHandler,
    ZoneType,
};
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

/// A child zone served beside its parent: queries for the DS records at
/// its apex go on to the parent (which has them, or proves with a signed
/// NSEC that there are none: an insecure delegation), as they would on
/// the Internet; everything else the child answers.
struct Child(Arc<dyn ZoneHandler>);

#[async_trait::async_trait]
impl ZoneHandler for Child {
    fn zone_type(&self) -> ZoneType {
        self.0.zone_type()
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        self.0.axfr_policy()
    }

    fn origin(&self) -> &LowerName {
        self.0.origin()
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.0
            .lookup(name, rtype, request_info, lookup_options)
            .await
    }

    async fn search(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
    ) -> (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>) {
        let ds_at_apex = request.request_info().is_ok_and(|info| {
            info.query.query_type() == RecordType::DS && info.query.name() == self.0.origin()
        });
        if ds_at_apex {
            return (LookupControlFlow::Skip, None);
        }
        self.0.search(request, lookup_options).await
    }

    async fn nsec_records(
        &self,
        name: &LowerName,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.0.nsec_records(name, lookup_options).await
    }

    async fn nsec3_records(
        &self,
        info: Nsec3QueryInfo<'_>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.0.nsec3_records(info, lookup_options).await
    }

    fn nx_proof_kind(&self) -> Option<&NxProofKind> {
        self.0.nx_proof_kind()
    }
}

/// One zone to serve: its origin (e.g. `example.org.`), records and
/// signing. A zone inside another one served is delegated from it (an NS
/// record in the parent, no DS).
pub struct Zone {
    pub origin: String,
    pub records: Vec<Entry>,
    pub signing: Signing,
}

/// The handler of one zone, and its DNSKEY when the trust anchor is to
/// list it. With `nsec`, a signed zone proves with NSEC records what it
/// does not have (a parent must, to prove a delegation insecure).
fn zone_handler(
    zone: Zone,
    nsec: bool,
) -> (InMemoryZoneHandler<TokioRuntimeProvider>, Option<Record>) {
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
        nsec.then_some(NxProofKind::Nsec),
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
        let mut zones = zones;
        // The parent of each zone among the others, and its delegation.
        let origins: Vec<Name> = zones
            .iter()
            .map(|z| Name::from_ascii(&z.origin).unwrap())
            .collect();
        let parents: Vec<Option<usize>> = origins
            .iter()
            .map(|child| {
                (0..origins.len())
                    .filter(|&i| origins[i] != *child && origins[i].zone_of(child))
                    .max_by_key(|&i| origins[i].num_labels())
            })
            .collect();
        for (child, parent) in parents.iter().enumerate() {
            if let Some(parent) = parent {
                let ns = Name::from_ascii(format!("ns.{}", zones[child].origin)).unwrap();
                let delegation = (zones[child].origin.clone(), RData::NS(NS(ns)));
                zones[*parent].records.push(delegation);
            }
        }
        let mut handlers: Vec<Arc<dyn ZoneHandler>> = Vec::new();
        for (i, zone) in zones.into_iter().enumerate() {
            let origin = Name::from_ascii(&zone.origin).unwrap();
            let is_parent = parents.contains(&Some(i));
            let (handler, anchor) = zone_handler(zone, is_parent);
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
            handlers.push(Arc::new(handler));
        }
        let mut catalog = Catalog::new();
        for (i, handler) in handlers.iter().enumerate() {
            let chain = match parents[i] {
                Some(parent) => vec![
                    Arc::new(Child(handler.clone())) as Arc<dyn ZoneHandler>,
                    handlers[parent].clone(),
                ],
                None => vec![handler.clone()],
            };
            catalog.upsert(LowerName::new(&origins[i]), chain);
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
