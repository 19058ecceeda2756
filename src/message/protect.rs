//! Header protection (RFC 9788): the real header fields travel inside the
//! cryptographic envelope; outside stay only those needed for delivery and
//! threading, with the Subject obscured.

use super::header::{Field, Headers};

/// Header fields that stay visible outside an encrypted message.
const OUTER_FIELDS: &[&str] = &[
    "From",
    "Sender",
    "To",
    "Cc",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
];

/// The Subject shown outside an encrypted message (RFC 9788 §2.1).
pub const OBSCURED_SUBJECT: &str = "[...]";

/// The header fields of a message, divided between the outer message and
/// the protected inner part.
#[derive(Debug)]
pub struct Split {
    /// Fields of the outer message (before its own MIME fields are added).
    pub outer: Headers,
    /// Fields of the inner, protected part.
    pub inner: Headers,
}

fn is_bcc(field: &Field) -> bool {
    field.is("Bcc") || field.is("Resent-Bcc")
}

fn is_content(field: &Field) -> bool {
    field.name().to_ascii_lowercase().starts_with("content-") || field.is("MIME-Version")
}

/// Splits `headers` for an encrypted message. With `protect`, every field
/// (Bcc excepted) goes inside with `hp="cipher"` and `HP-Outer` records,
/// and the outside is minimal; without it, only the Content-* fields go
/// inside (classic PGP/MIME).
pub fn for_encryption(headers: &Headers, protect: bool) -> Split {
    if !protect {
        return unprotected(headers);
    }
    let mut outer = Headers::default();
    for field in headers.fields() {
        if OUTER_FIELDS.iter().any(|name| field.is(name)) {
            outer.push(field.clone());
        }
    }
    if headers.get("Subject").is_some() {
        outer.push(Field::new("Subject", OBSCURED_SUBJECT));
    }
    let mut inner = protected_inner(headers, "cipher");
    for field in outer.fields() {
        inner.push(Field::new(
            "HP-Outer",
            &format!("{}: {}", field.name(), field.value()),
        ));
    }
    Split { outer, inner }
}

/// Splits `headers` for a signed-only message: with `protect`, a copy of
/// every field (Bcc excepted) is signed inside with `hp="clear"`.
pub fn for_signing(headers: &Headers, protect: bool) -> Split {
    if !protect {
        return unprotected(headers);
    }
    let mut outer = headers.clone();
    outer.retain(|f| !is_bcc(f) && !is_content(f));
    Split {
        outer,
        inner: protected_inner(headers, "clear"),
    }
}

fn unprotected(headers: &Headers) -> Split {
    let mut outer = headers.clone();
    outer.retain(|f| !is_bcc(f) && !is_content(f));
    let mut inner = headers.clone();
    inner.retain(|f| is_content(f) && !f.is("MIME-Version"));
    Split { outer, inner }
}

fn protected_inner(headers: &Headers, hp: &str) -> Headers {
    let mut inner = headers.clone();
    inner.retain(|f| !is_bcc(f));
    match inner.get("Content-Type").cloned() {
        Some(field) => {
            let raw = String::from_utf8_lossy(field.raw());
            let value = &raw[field.name().len() + 1..raw.len() - 2];
            inner.set(field.name(), &format!("{}; hp=\"{hp}\"", value.trim()));
        }
        None => inner.push(Field::new(
            "Content-Type",
            &format!("text/plain; charset=us-ascii; hp=\"{hp}\""),
        )),
    }
    inner
}

/// The header section a reader sees after decryption: the inner fields
/// (without `HP-Outer` and the `hp` parameter), preceded by any outer field
/// the inner part does not carry (trace fields added in transit, or
/// everything but Content-* for a message without header protection).
pub fn restore(outer: &Headers, inner: &Headers) -> Headers {
    let mut restored = Headers::default();
    for field in outer.fields() {
        let carried_inside = inner.fields().iter().any(|f| f.is(field.name()));
        if !carried_inside && !is_content(field) {
            restored.push(field.clone());
        }
    }
    for field in inner.fields() {
        if field.is("HP-Outer") {
            continue;
        }
        if field.is("Content-Type") {
            restored.push(without_hp_parameter(field));
        } else {
            restored.push(field.clone());
        }
    }
    restored
}

fn without_hp_parameter(field: &Field) -> Field {
    let raw = String::from_utf8_lossy(field.raw()).into_owned();
    let lower = raw.to_ascii_lowercase();
    let Some(hp) = lower.find("hp=") else {
        return field.clone();
    };
    let Some(semicolon) = lower[..hp].rfind(';') else {
        return field.clone();
    };
    if !lower[semicolon + 1..hp].trim().is_empty() {
        return field.clone();
    }
    let value_start = hp + 3;
    let value_end = if raw[value_start..].starts_with('"') {
        raw[value_start + 1..]
            .find('"')
            .map_or(raw.len() - 2, |q| value_start + q + 2)
    } else {
        raw[value_start..]
            .find(|c: char| c == ';' || c.is_ascii_whitespace())
            .map_or(raw.len() - 2, |e| value_start + e)
    };
    let stripped = format!("{}{}", &raw[..semicolon], &raw[value_end..]);
    let value = &stripped[field.name().len() + 1..stripped.len() - 2];
    Field::new(field.name(), value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> Headers {
        Headers::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn encrypted_outside_is_minimal_and_inside_restores() {
        let original = headers(
            "From: a@x\nTo: b@y\nBcc: c@z\nSubject: secret plans\nUser-Agent: mutt\nContent-Type: text/plain; charset=utf-8\n",
        );
        let split = for_encryption(&original, true);
        let outer = String::from_utf8(split.outer.to_bytes()).unwrap();
        assert_eq!(outer, "From: a@x\r\nTo: b@y\r\nSubject: [...]\r\n");
        let inner = String::from_utf8(split.inner.to_bytes()).unwrap();
        assert!(inner.contains("hp=\"cipher\""));
        assert!(inner.contains("HP-Outer: Subject: [...]\r\n"));
        assert!(!inner.contains("Bcc"));
        let mut expected = original.clone();
        expected.retain(|f| !f.is("Bcc"));
        assert_eq!(restore(&split.outer, &split.inner), expected);
    }

    #[test]
    fn unprotected_keeps_classic_layout() {
        let original = headers("From: a@x\nSubject: s\nContent-Type: text/plain\n");
        let split = for_encryption(&original, false);
        assert_eq!(split.inner.to_bytes(), b"Content-Type: text/plain\r\n");
        assert_eq!(restore(&split.outer, &split.inner), original);
    }
}
