//! Web Key Directory (draft-koch-openpgp-webkey-service): the advanced
//! method (`openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL`)
//! first, the direct method (`DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL`)
//! when the advanced host does not resolve. URLs come from sequoia-net
//! (z-base-32 of the SHA-1 of the lowercased local part).

use sequoia_net::wkd::{Url as WkdUrl, Variant};

use super::http::{FetchError, Http};
use super::{parse_certs, Fetched};

/// The advanced and direct URLs for `address`.
pub fn urls(address: &str) -> Result<(url::Url, url::Url), String> {
    let wkd = WkdUrl::from(address).map_err(|e| format!("not an address: {e}"))?;
    let advanced = wkd
        .to_url(Variant::Advanced)
        .map_err(|e| format!("cannot build the WKD URL: {e}"))?;
    let direct = wkd
        .to_url(Variant::Direct)
        .map_err(|e| format!("cannot build the WKD URL: {e}"))?;
    Ok((advanced, direct))
}

/// Asks the recipient's domain for `address`'s certificates.
pub async fn fetch(http: &Http, address: &str) -> Result<Fetched, String> {
    let (advanced, direct) = urls(address)?;
    let (url, body) = match http.get(&advanced).await {
        Ok(body) => (advanced, body),
        Err(FetchError::NoSuchHost(host)) => match http.get(&direct).await {
            Ok(body) => (direct, body),
            Err(e) => {
                return Err(format!(
                    "advanced method: {host} does not resolve; direct method {direct}: {e}"
                ))
            }
        },
        Err(e) => return Err(format!("{advanced}: {e}")),
    };
    let certs = parse_certs(&body).map_err(|e| format!("{url}: {e}"))?;
    Ok(Fetched {
        certs,
        source: url.to_string(),
        dnssec: "none".into(),
        verifies_address: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_the_draft() {
        // The draft's own example: Joe.Doe@Example.ORG.
        let (advanced, direct) = urls("Joe.Doe@Example.ORG").unwrap();
        assert_eq!(
            advanced.as_str(),
            "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"
        );
        assert_eq!(
            direct.as_str(),
            "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"
        );
    }
}
