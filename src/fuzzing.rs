//! Thin entry points for the fuzz targets in `fuzz/` (not a stable API).
//!
//! Each function feeds untrusted bytes to a parser that the public API
//! only reaches through the network, exactly as the real code path does,
//! and changes nothing about how those parsers behave.

use std::future::Future;
use std::sync::OnceLock;

use hickory_resolver::proto::op::Message;

use crate::discover::{dane, keyserver, select};

/// A runtime for the async parsers (their input is already in memory).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime without I/O always builds")
    })
}

/// Reads SMTP replies from `data` as the submission client does, until
/// the input ends or a reply is malformed.
pub fn smtp_replies(data: &[u8]) {
    runtime().block_on(async {
        let mut input = data;
        while let Ok(reply) = crate::submit::reply::read_reply(&mut input).await {
            let _ = (reply.is_positive(), reply.is_transient(), reply.text());
        }
    });
}

/// Handles a DNS response (wire format) to the OPENPGPKEY and SMIMEA
/// queries for `address` as discovery does once DNSSEC has validated it.
pub fn dns_response(wire: &[u8], address: &str) {
    let Ok(message) = Message::from_vec(wire) else {
        return;
    };
    let records: Vec<_> = message.answers.iter().map(|r| r.data.clone()).collect();
    if let Ok(fetched) = dane::openpgpkey_from("fuzz.example.".into(), records.clone()) {
        let _ = select(address, fetched.certs);
    }
    let answer = dane::smimea_from("fuzz.example.", address, records);
    for record in &answer.records {
        for cert in &answer.certificates {
            let _ = record.matches(&cert.der);
        }
    }
}

/// Handles `body` as an HKPS server's answer to a search for `address`,
/// then selects the certificate to use as discovery does.
pub fn hkp_response(body: &[u8], address: &str) {
    let client = Box::new(Canned(body.to_vec()));
    let found = runtime().block_on(keyserver::hkps_search(
        "hkps://keys.example.org",
        client,
        address,
    ));
    if let Ok(fetched) = found {
        let _ = select(address, fetched.certs);
    }
}

/// An HTTP client whose every GET answers the same body.
struct Canned(Vec<u8>);

impl sequoia_net::HttpClient for Canned {
    fn get(
        &'_ self,
        _url: url::Url,
    ) -> Box<dyn Future<Output = sequoia_net::Result<Vec<u8>>> + Send + '_> {
        Box::new(async move { Ok(self.0.clone()) })
    }

    fn post(
        &'_ self,
        _url: url::Url,
        _data: Vec<u8>,
    ) -> Box<dyn Future<Output = sequoia_net::Result<()>> + Send + '_> {
        Box::new(async { Err(anyhow::anyhow!("never used")) })
    }
}
