//! An in-process HTTPS server for discovery tests, on 127.0.0.1 port 0,
//! with a certificate from a test CA for any host names it is given. It
//! answers GETs from a table of (host, path-and-query) → response, counts
//! every request, and lives at most a minute.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

/// What the server answers for one URL.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 with this Content-Type and body.
    Typed(&'static str, Vec<u8>),
    /// 302 to this location.
    Redirect(String),
    /// 200 with this many bytes of body, without Content-Length.
    Huge(usize),
    /// Accepts and never answers.
    Stall,
}

/// A running test server.
pub struct Https {
    pub port: u16,
    /// The test CA (PEM), for `network.ca_file`.
    pub ca_file: PathBuf,
    /// Every request as `HOST PATH?QUERY`.
    pub requests: Arc<Mutex<Vec<String>>>,
    routes: Arc<Mutex<HashMap<(String, String), Reply>>>,
    _dir: tempfile::TempDir,
}

impl Https {
    /// Starts a server with a certificate for `hosts`.
    pub fn start(hosts: &[&str]) -> Https {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mailseal discovery test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_file = dir.path().join("ca.pem");
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(ca_cert.der())
        );
        std::fs::write(&ca_file, pem).unwrap();

        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, hosts[0]);
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(Mutex::new(HashMap::new()));
        let (seen, table) = (requests.clone(), routes.clone());
        crate::common::spawn_server(Duration::from_secs(60), move || async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen, table) = (acceptor.clone(), seen.clone(), table.clone());
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(20), async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        serve(&mut tls, seen, table).await;
                    })
                    .await;
                });
            }
        });
        Https {
            port,
            ca_file,
            requests,
            routes,
            _dir: dir,
        }
    }

    /// Answers GET https://HOST/PATH with `reply`.
    pub fn route(&self, host: &str, path: &str, reply: Reply) {
        self.routes
            .lock()
            .unwrap()
            .insert((host.to_string(), path.to_string()), reply);
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The `[network] resolve` lines sending `hosts` here.
    pub fn resolve_toml(&self, hosts: &[&str]) -> String {
        hosts
            .iter()
            .map(|h| format!("\"{h}:443\" = \"127.0.0.1:{}\"\n", self.port))
            .collect()
    }
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    seen: Arc<Mutex<Vec<String>>>,
    table: Arc<Mutex<HashMap<(String, String), Reply>>>,
) {
    // One request per connection (Connection: close).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16_384 || stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split(' ').nth(1).unwrap_or("/").to_string();
    let host = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("host:")
                .map(|h| h.trim().split(':').next().unwrap_or("").to_string())
        })
        .unwrap_or_default();
    seen.lock().unwrap().push(format!("{host} {target}"));
    let reply = table.lock().unwrap().get(&(host, target)).cloned();
    let response = |status: &str, extra: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    match reply {
        None => {
            let _ = stream.write_all(&response("404 Not Found", "", b"")).await;
        }
        Some(Reply::Body(body)) => {
            let _ = stream
                .write_all(&response(
                    "200 OK",
                    "Content-Type: application/octet-stream\r\n",
                    &body,
                ))
                .await;
        }
        Some(Reply::Typed(content_type, body)) => {
            let _ = stream
                .write_all(&response(
                    "200 OK",
                    &format!("Content-Type: {content_type}\r\n"),
                    &body,
                ))
                .await;
        }
        Some(Reply::Redirect(location)) => {
            let _ = stream
                .write_all(&response(
                    "302 Found",
                    &format!("Location: {location}\r\n"),
                    b"",
                ))
                .await;
        }
        Some(Reply::Huge(size)) => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await;
            let chunk = vec![0x99u8; 65_536];
            let mut sent = 0;
            while sent < size {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Some(Reply::Stall) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
    let _ = stream.shutdown().await;
}
