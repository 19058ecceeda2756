//! The MIME framing of S/MIME (RFC 8551 §3): application/pkcs7-mime
//! entities around CMS objects, and taking received ones apart.

use std::borrow::Cow;
use std::io::BufRead;

use crate::message::header::split_entity;
use crate::message::transfer::{self, Undecodable};
use crate::message::{mime, walk, Field, Headers};
use crate::{Error, Result};

/// The `smime-type` of an application/pkcs7-mime entity.
pub fn smime_type_name(authenticated: bool) -> &'static str {
    if authenticated {
        "authEnveloped-data"
    } else {
        "enveloped-data"
    }
}

/// The header section of an application/pkcs7-mime message or part, up to
/// and including the blank line; the base64 body follows.
pub fn pkcs7_mime_head(outer: &Headers, smime_type: &str) -> Vec<u8> {
    let mut headers = outer.clone();
    headers.set("MIME-Version", "1.0");
    headers.push(Field::new(
        "Content-Type",
        &format!("application/pkcs7-mime; smime-type={smime_type};\r\n name=\"smime.p7m\""),
    ));
    headers.push(Field::new("Content-Transfer-Encoding", "base64"));
    headers.push(Field::new(
        "Content-Disposition",
        "attachment; filename=\"smime.p7m\"",
    ));
    let mut out = headers.to_bytes();
    out.extend_from_slice(b"\r\n");
    out
}

/// A received S/MIME message, taken apart.
#[derive(Debug)]
pub enum Received<'a> {
    /// application/pkcs7-mime: the outer fields, the decoded CMS object and
    /// its declared smime-type (lower case, possibly empty).
    Pkcs7Mime {
        outer: Headers,
        smime_type: String,
        cms: Vec<u8>,
    },
    /// multipart/signed with application/pkcs7-signature.
    Signed {
        outer: Headers,
        signed: &'a [u8],
        signature: Vec<u8>,
    },
    /// Anything else.
    Other,
}

/// Whether `mime` is the (lower-case) media type of S/MIME's CMS objects.
pub fn is_pkcs7_mime(mime: &str) -> bool {
    matches!(mime, "application/pkcs7-mime" | "application/x-pkcs7-mime")
}

/// Whether `mime` is the (lower-case) media type of S/MIME's detached
/// signatures.
pub fn is_pkcs7_signature(mime: &str) -> bool {
    matches!(
        mime,
        "application/pkcs7-signature" | "application/x-pkcs7-signature"
    )
}

/// A body with its Content-Transfer-Encoding (any one) undone.
fn decode_body(headers: &Headers, body: &[u8]) -> Result<Vec<u8>> {
    transfer::decode_body(headers, body)
        .map(Cow::into_owned)
        .ok_or_else(|| Error::Malformed(format!("cannot read the S/MIME part: {Undecodable}")))
}

/// The decoded body of the signature part `part` (header section and
/// body) of a multipart/signed message.
pub fn signature_body(part: &[u8]) -> Result<Vec<u8>> {
    let (headers, body) = split_entity(part);
    decode_body(&Headers::parse(headers)?, body)
}

/// Whether an entity with these header fields is S/MIME (signed or
/// enveloped).
pub fn is_smime_entity(headers: &Headers) -> bool {
    let ct = headers.content_type();
    is_pkcs7_mime(&ct.mime)
        || (ct.mime == "multipart/signed"
            && ct
                .param("protocol")
                .is_some_and(|p| is_pkcs7_signature(&p.to_ascii_lowercase())))
}

/// Whether `message` (CRLF canonical) is S/MIME at its top level or holds
/// S/MIME parts in content that is neither signed nor encrypted (see
/// [`nested`]); errors as [`nested`].
pub fn is_smime(message: &[u8]) -> Result<bool> {
    let (header_bytes, _) = split_entity(message);
    let Ok(headers) = Headers::parse(header_bytes) else {
        return Ok(false);
    };
    Ok(is_smime_entity(&headers) || !nested(message)?.is_empty())
}

/// An S/MIME part below the top of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedPart {
    /// Where it is (`2`, `1.3`, …), as [`mime::Entity::path`].
    pub path: String,
    /// Enveloped (encrypted) rather than signed.
    pub encrypted: bool,
}

/// The S/MIME parts of `entity` (CRLF canonical) that sit below its top
/// inside content that is neither signed nor encrypted, so that their
/// signature or encryption covers only part of what a reader sees. Errors
/// for MIME that does not parse or nests deeper than [`mime::MAX_DEPTH`].
pub fn nested(entity: &[u8]) -> Result<Vec<NestedPart>> {
    Ok(mime::walk(entity, |e| !is_sealed(&e.headers))?
        .into_iter()
        .filter_map(|e| nested_part(e.path, &e.headers))
        .collect())
}

/// [`nested`] for an entity too large to hold: its header fields `top`
/// and its body, which `body` reads from offset `base` on, walked once
/// ([`walk::walk`]).
pub fn nested_streamed(top: Headers, body: impl BufRead, base: u64) -> Result<Vec<NestedPart>> {
    let mut search = NestedSearch::default();
    walk::walk(body, base, top, &mut search)?;
    Ok(search.parts)
}

/// The walk of [`nested_streamed`]: the S/MIME parts it found.
#[derive(Default)]
pub struct NestedSearch {
    pub parts: Vec<NestedPart>,
}

impl walk::Visitor for NestedSearch {
    fn descend(&self, headers: &Headers) -> bool {
        !is_sealed(headers)
    }

    fn leaf(&mut self, leaf: walk::Leaf) -> Result<()> {
        if let Ok(headers) = &leaf.headers {
            self.parts.extend(nested_part(leaf.path, headers));
        }
        Ok(())
    }
}

/// Whether an entity with `headers` is signed or encrypted (its parts are
/// not searched).
fn is_sealed(headers: &Headers) -> bool {
    is_smime_entity(headers)
        || matches!(
            headers.content_type().mime.as_str(),
            "multipart/signed" | "multipart/encrypted"
        )
}

/// The entity at `path` with `headers` as a [`NestedPart`], when it is
/// S/MIME below the top.
fn nested_part(path: String, headers: &Headers) -> Option<NestedPart> {
    if path.is_empty() || !is_smime_entity(headers) {
        return None;
    }
    let ct = headers.content_type();
    Some(NestedPart {
        encrypted: is_pkcs7_mime(&ct.mime)
            && !ct
                .param("smime-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("signed-data")),
        path,
    })
}

/// Takes apart `message`, which must already be CRLF canonical.
pub fn parse(message: &[u8]) -> Result<Received<'_>> {
    let (header_bytes, body) = split_entity(message);
    let headers = Headers::parse(header_bytes)?;
    let ct = headers.content_type();
    if is_pkcs7_mime(&ct.mime) {
        let smime_type = ct.param("smime-type").unwrap_or("").to_ascii_lowercase();
        let cms = decode_body(&headers, body)?;
        return Ok(Received::Pkcs7Mime {
            outer: headers,
            smime_type,
            cms,
        });
    }
    let protocol = ct.param("protocol").unwrap_or("").to_ascii_lowercase();
    if let ("multipart/signed", true, Some(boundary)) = (
        ct.mime.as_str(),
        is_pkcs7_signature(&protocol),
        ct.param("boundary"),
    ) {
        let parts = mime::split(body, boundary)?.parts;
        if parts.len() != 2 {
            return Err(Error::Malformed(format!(
                "multipart/signed must have 2 parts, this one has {}",
                parts.len()
            )));
        }
        crate::message::signed_parts::check_signature_size(parts[1].len())?;
        return Ok(Received::Signed {
            outer: headers.clone(),
            signed: parts[0],
            signature: signature_body(parts[1])?,
        });
    }
    Ok(Received::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spill_search::search_stream;

    #[test]
    fn nested_streamed_finds_what_nested_finds() {
        let cases = [
            "Content-Type: text/plain\r\n\r\nx\r\n",
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\ntext\r\n--a\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nMIA=\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=s\r\n\r\n--s\r\n\r\nx\r\n--s--\r\n--a\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIA=\r\n--a--\r\n",
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/signed; boundary=s\r\n\r\n--s\r\nContent-Type: application/pkcs7-mime\r\n\r\n--s--\r\n--a--\r\n",
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nnot a header\r\n\r\n--a--\r\n",
            "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nopen\r\n",
        ];
        for case in cases {
            let (header_bytes, body) = split_entity(case.as_bytes());
            let base = (case.len() - body.len()) as u64;
            let streamed = nested_streamed(Headers::parse(header_bytes).unwrap(), body, base);
            let in_memory = nested(case.as_bytes());
            match (streamed, in_memory) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{case}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{case}: streamed {a:?}, in memory {b:?}"),
            }
        }
        // The search made as a plaintext is written finds what the walk
        // of the spill finds, here and in random structures.
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let soups = (0..300).map(|_| walk::line_soup(&mut rng));
        let mut compared = 0;
        for case in cases.iter().map(|c| c.to_string()).chain(soups) {
            let (header_bytes, body) = split_entity(case.as_bytes());
            let Ok(headers) = Headers::parse(header_bytes) else {
                continue;
            };
            let base = (case.len() - body.len()) as u64;
            let walked = nested_streamed(headers.clone(), body, base);
            // Searched under other header fields: the spill is walked.
            let Some(searched) =
                search_stream::<NestedSearch>(case.as_bytes(), None).matching(&headers, base)
            else {
                continue;
            };
            compared += 1;
            match (searched.map(|search| search.parts), walked) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{case:?}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case:?}"),
                (a, b) => panic!("{case:?}: searched {a:?}, walked {b:?}"),
            }
        }
        assert!(compared > 200, "only {compared} searches were used");

        let (header_bytes, body) = split_entity(cases[1].as_bytes());
        let found = nested_streamed(Headers::parse(header_bytes).unwrap(), body, 0).unwrap();
        let paths: Vec<_> = found
            .iter()
            .map(|p| (p.path.as_str(), p.encrypted))
            .collect();
        assert_eq!(paths, [("2", false), ("3.1", false), ("4", true)]);
    }
}
