//! Keyservers: VKS (`/vks/v1/by-email/`, as keys.openpgp.org serves it:
//! it publishes an address only after its owner confirmed it) and HKP
//! over HTTPS (`/pks/lookup?op=get&options=mr&search=`, through
//! sequoia-net: anyone can upload any key with any address there, so its
//! results are unverified).

use std::future::Future;

use sequoia_net::KeyServer;

use super::http::{FetchError, Http};
use super::{parse_certs, Fetched};

/// A configured keyserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// A verifying keyserver speaking VKS, at this https base URL.
    Vks(url::Url),
    /// An HKP keyserver reached over https (`hkps://HOST[:PORT]`).
    Hkps(String),
}

/// Servers known to verify addresses; `hkps://` for them means VKS.
const VERIFYING: &[&str] = &["keys.openpgp.org"];

impl Server {
    /// Parses one `discovery.keyservers` entry.
    pub fn parse(spec: &str) -> Result<Server, String> {
        let url = url::Url::parse(spec).map_err(|e| format!("{spec:?} is not a URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("{spec:?} has no host"))?
            .to_ascii_lowercase();
        let base = |url: &url::Url| -> Result<url::Url, String> {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            url::Url::parse(&format!("https://{host}{port}/")).map_err(|e| e.to_string())
        };
        match url.scheme() {
            "vks+https" | "https" => Ok(Server::Vks(base(&url)?)),
            "hkps" if VERIFYING.contains(&host.as_str()) => Ok(Server::Vks(base(&url)?)),
            "hkps" => Ok(Server::Hkps(spec.to_string())),
            "hkp" | "http" => Err(format!(
                "{spec:?} is plaintext: anyone on the path would see whom you write to and could swap the key; use hkps://"
            )),
            other => Err(format!(
                "{spec:?}: unknown scheme {other:?} (use vks+https://, https:// or hkps://)"
            )),
        }
    }

    /// Asks this server for `address`.
    pub async fn fetch(&self, http: &Http, address: &str) -> Result<Fetched, String> {
        match self {
            Server::Vks(base) => {
                let url = vks_url(base, address)?;
                let body = http.get(&url).await.map_err(|e| format!("{url}: {e}"))?;
                Ok(Fetched {
                    certs: parse_certs(&body).map_err(|e| format!("{url}: {e}"))?,
                    source: url.to_string(),
                    dnssec: "none".into(),
                    verifies_address: true,
                })
            }
            Server::Hkps(spec) => hkps_search(spec, Box::new(Adapter(http.clone())), address).await,
        }
    }
}

/// Asks the HKP(S) server `spec` for `address` through `client`.
pub async fn hkps_search(
    spec: &str,
    client: Box<dyn sequoia_net::HttpClient>,
    address: &str,
) -> Result<Fetched, String> {
    let server = KeyServer::with_client(spec, client).map_err(|e| format!("{spec}: {e}"))?;
    let source = format!(
        "{}/pks/lookup?op=get&options=mr&search={address}",
        spec.trim_end_matches('/')
    );
    let results =
        server
            .search(address)
            .await
            .map_err(|e| match e.downcast_ref::<FetchError>() {
                Some(fetch) => format!("{source}: {fetch}"),
                None => format!("{source}: {e}"),
            })?;
    let certs: Vec<_> = results.into_iter().filter_map(|r| r.ok()).collect();
    if certs.is_empty() {
        return Err(format!("{source}: no OpenPGP certificate in the response"));
    }
    Ok(Fetched {
        certs,
        source,
        dnssec: "none".into(),
        verifies_address: false,
    })
}

/// `BASE/vks/v1/by-email/ADDRESS`, the address encoded as one path
/// segment by the url crate.
fn vks_url(base: &url::Url, address: &str) -> Result<url::Url, String> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| format!("{base} cannot have a path"))?
        .clear()
        .extend(["vks", "v1", "by-email", address]);
    Ok(url)
}

/// Lets sequoia-net's HKP client use the capped https-only client.
struct Adapter(Http);

impl sequoia_net::HttpClient for Adapter {
    fn get(
        &'_ self,
        url: url::Url,
    ) -> Box<dyn Future<Output = sequoia_net::Result<Vec<u8>>> + Send + '_> {
        Box::new(async move { self.0.get(&url).await.map_err(anyhow::Error::from) })
    }

    fn post(
        &'_ self,
        _url: url::Url,
        _data: Vec<u8>,
    ) -> Box<dyn Future<Output = sequoia_net::Result<()>> + Send + '_> {
        Box::new(async { Err(anyhow::anyhow!("mailseal never uploads keys")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyserver_specs() {
        assert!(matches!(
            Server::parse("hkps://keys.openpgp.org").unwrap(),
            Server::Vks(u) if u.as_str() == "https://keys.openpgp.org/"
        ));
        assert!(matches!(
            Server::parse("vks+https://keys.example:8443").unwrap(),
            Server::Vks(u) if u.as_str() == "https://keys.example:8443/"
        ));
        assert_eq!(
            Server::parse("hkps://pgp.example").unwrap(),
            Server::Hkps("hkps://pgp.example".into())
        );
        assert!(Server::parse("hkp://pgp.example")
            .unwrap_err()
            .contains("plaintext"));
        assert!(Server::parse("ldap://x").is_err());
        let base = url::Url::parse("https://keys.example/").unwrap();
        assert_eq!(
            vks_url(&base, "a b/c@x.org").unwrap().as_str(),
            "https://keys.example/vks/v1/by-email/a%20b%2Fc@x.org"
        );
    }
}
