//! The HTTP client discovery uses: HTTPS only, certificates verified
//! against the system roots plus `network.ca_file`, redirects followed only
//! to https (at most 5), every response capped in size, every request
//! bounded in time, and host names resolved through `network.resolve` and
//! `network.nameservers` when they are set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::dns;
use crate::config::Network;
use crate::submit::Trace;
use crate::{Error, Result};

/// Why a request produced no body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The host name does not resolve (the WKD advanced method falls back
    /// to the direct method on this one).
    #[error("cannot resolve {0}")]
    NoSuchHost(String),
    /// The server answered 404 (or 410).
    #[error("not found ({0})")]
    NotFound(String),
    /// Something a careful client must not accept: a redirect to http, an
    /// oversized response, a certificate that does not verify.
    #[error("refused: {0}")]
    Refused(String),
    /// The server did not answer in time.
    #[error("timed out after {0} s")]
    Timeout(u64),
    /// Any other failure (connection refused, HTTP status, broken stream).
    #[error("{0}")]
    Failed(String),
}

/// A capped, https-only client.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    max_bytes: u64,
    timeout_secs: u64,
    trace: Option<Trace>,
}

/// A response body with its `Content-Type` header.
#[derive(Debug, Clone)]
pub struct Document {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

/// The marker error a redirect to a non-https URL ends with.
#[derive(Debug)]
struct InsecureRedirect(String);

impl std::fmt::Display for InsecureRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to {} is not https", self.0)
    }
}

impl std::error::Error for InsecureRedirect {}

impl Http {
    /// A client honouring `network` (extra CA, static resolution, DNS
    /// servers), `timeout_secs` per request and `max_bytes` per response,
    /// following redirects to https (at most 5).
    pub fn new(network: &Network, timeout_secs: u64, max_bytes: u64) -> Result<Http> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().scheme() != "https" {
                let url = attempt.url().to_string();
                attempt.error(InsecureRedirect(url))
            } else if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else {
                attempt.follow()
            }
        });
        Http::with_redirects(network, timeout_secs, max_bytes, redirects)
    }

    /// Like [`Http::new`], but a 3xx answer is refused instead of followed
    /// (RFC 8461 §3.3 asks this of MTA-STS policies).
    pub fn without_redirects(network: &Network, timeout_secs: u64, max_bytes: u64) -> Result<Http> {
        let none = reqwest::redirect::Policy::none();
        Http::with_redirects(network, timeout_secs, max_bytes, none)
    }

    fn with_redirects(
        network: &Network,
        timeout_secs: u64,
        max_bytes: u64,
        redirects: reqwest::redirect::Policy,
    ) -> Result<Http> {
        Ok(Http {
            client: client(network, timeout_secs, redirects)?,
            max_bytes,
            timeout_secs,
            trace: None,
        })
    }

    /// Reports every request and its outcome to `trace` (`-v`).
    pub fn traced(mut self, trace: Option<Trace>) -> Http {
        self.trace = trace;
        self
    }

    /// GETs `url` and returns the body, at most the configured size.
    pub async fn get(&self, url: &Url) -> std::result::Result<Vec<u8>, FetchError> {
        Ok(self.get_document(url).await?.body)
    }

    /// GETs `url` and returns the body, at most the configured size, with
    /// its media type.
    pub async fn get_document(&self, url: &Url) -> std::result::Result<Document, FetchError> {
        let Some(trace) = &self.trace else {
            return self.fetch(url).await;
        };
        trace(&format!("> GET {url}"));
        let result = self.fetch(url).await;
        match &result {
            Ok(doc) => trace(&format!(
                "< {} bytes of {}",
                doc.body.len(),
                doc.content_type.as_deref().unwrap_or("no content type")
            )),
            Err(e) => trace(&format!("< {e}")),
        }
        result
    }

    async fn fetch(&self, url: &Url) -> std::result::Result<Document, FetchError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.classify(&host, &e))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("elsewhere");
            return Err(FetchError::Refused(format!(
                "HTTP {status}: redirects to {to} are not followed"
            )));
        }
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Err(FetchError::NotFound(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(FetchError::Failed(format!("HTTP {status}")));
        }
        let too_big = || {
            FetchError::Refused(format!(
                "the response is larger than {} bytes",
                self.max_bytes
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_big());
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(&host, &e))?
        {
            if body.len() as u64 + chunk.len() as u64 > self.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Document { body, content_type })
    }

    fn classify(&self, host: &str, e: &reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.timeout_secs);
        }
        let mut messages = Vec::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = source {
            if let Some(redirect) = err.downcast_ref::<InsecureRedirect>() {
                return FetchError::Refused(redirect.to_string());
            }
            if err.downcast_ref::<dns::NoSuchHost>().is_some() {
                return FetchError::NoSuchHost(host.to_string());
            }
            messages.push(err.to_string());
            source = err.source();
        }
        let text = messages.join(": ");
        if text.contains("failed to lookup address")
            || text.contains("Name or service not known")
            || text.contains("dns error")
        {
            return FetchError::NoSuchHost(host.to_string());
        }
        if text.contains("certificate") || text.contains("URL scheme is not allowed") {
            return FetchError::Refused(text);
        }
        FetchError::Failed(text)
    }
}

/// A client honouring `network` with the given redirect policy.
fn client(
    network: &Network,
    timeout_secs: u64,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client> {
    let extra: Vec<&std::path::Path> = network.ca_file.iter().map(|p| p.as_path()).collect();
    let mut tls = (*crate::submit::tls::client_config(&extra)?).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connect = network.connect_timeout_secs.unwrap_or(timeout_secs);
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .redirect(redirects)
        .timeout(Duration::from_secs(timeout_secs))
        .connect_timeout(Duration::from_secs(connect))
        .user_agent(concat!("mailseal/", env!("CARGO_PKG_VERSION")));
    for (host, addr) in parse_resolve(network)? {
        builder = builder.resolve(&host, addr);
    }
    if !network.nameservers.is_empty() {
        let resolver = dns::Resolver::new(network, None, timeout_secs)?;
        builder = builder.dns_resolver(Arc::new(resolver));
    }
    builder.build().map_err(|e| Error::Config {
        path: "[network]".into(),
        message: format!("cannot set up the HTTP client: {e}"),
    })
}

/// `network.resolve` as (host, address) pairs. The key's port is the one
/// the URL uses (443 for https); the address's port is where to connect.
fn parse_resolve(network: &Network) -> Result<Vec<(String, SocketAddr)>> {
    network
        .resolve
        .iter()
        .map(|(key, value)| {
            let bad = |what: &str| Error::Config {
                path: "[network] resolve".into(),
                message: format!(
                    "{what} in {key:?} = {value:?}: write \"host:port\" = \"address:port\""
                ),
            };
            let host = match key.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() => host,
                _ => return Err(bad("the key is not host:port")),
            };
            let addr: SocketAddr = value
                .parse()
                .map_err(|_| bad("the value is not address:port"))?;
            Ok((host.trim_matches(['[', ']']).to_ascii_lowercase(), addr))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries_parse() {
        let mut network = Network::default();
        network
            .resolve
            .insert("OpenPGPkey.Example.org:443".into(), "127.0.0.1:8443".into());
        assert_eq!(
            parse_resolve(&network).unwrap(),
            vec![(
                "openpgpkey.example.org".to_string(),
                "127.0.0.1:8443".parse().unwrap()
            )]
        );
        network
            .resolve
            .insert("nohost".into(), "127.0.0.1:1".into());
        assert!(parse_resolve(&network).is_err());
        let mut network = Network::default();
        network.resolve.insert("h:443".into(), "somewhere".into());
        assert_eq!(parse_resolve(&network).unwrap_err().exit_code(), 78);
    }
}
