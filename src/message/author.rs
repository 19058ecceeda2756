//! Who wrote a message, and whether a signer speaks for them (DESIGN §2.11),
//! for OpenPGP and S/MIME alike: a signature vouches for a message only
//! when there is exactly one From field holding exactly one address, the
//! same outside (what clients without RFC 9788 support show) and in the
//! protected header fields, with no other address dressed up as its
//! display name, and when that address is one the signer's certificate
//! validly binds.

use super::header::Headers;
use crate::keys::normalize_address;

/// The one author address (normalized) a reader sees, or why there is no
/// such single address. `inner` is the protected header section (pass
/// `outer` again when there is none); it counts only when it has a From
/// field.
///
/// An outer section without From (a bare signed entity, as `openssl smime
/// -sign` writes it) shows no competing author and leaves the protected
/// From alone.
pub fn author(outer: &Headers, inner: &Headers) -> Result<String, String> {
    if inner.get("From").is_none() || std::ptr::eq(outer, inner) {
        return single_from(outer, "");
    }
    let inner_from = single_from(inner, "protected ")?;
    if outer.get("From").is_none() {
        return Ok(inner_from);
    }
    let outer_from = single_from(outer, "")?;
    if inner_from != outer_from {
        return Err(format!(
            "the outer From ({outer_from}) differs from the protected From ({inner_from}): different readers would see different authors"
        ));
    }
    Ok(inner_from)
}

/// Whether a signer whose certificate binds `signer` (addresses) vouches
/// for the author of a message with these header sections; the error says
/// why not, naming both sides.
pub fn check_signer(signer: &[String], outer: &Headers, inner: &Headers) -> Result<(), String> {
    let author = author(outer, inner)?;
    let signer: Vec<String> = signer.iter().map(|a| normalize_address(a)).collect();
    if signer.contains(&author) {
        return Ok(());
    }
    let shown = if inner.get("From").is_some() {
        inner
    } else {
        outer
    };
    if let Some(sender) = shown
        .addresses("Sender")
        .iter()
        .map(|a| normalize_address(a))
        .find(|s| signer.contains(s))
    {
        return Err(format!(
            "signed by the sender, not the author: the signer is Sender {sender}, the message is From {author}"
        ));
    }
    Err(format!(
        "the signer ({}) is not the author (From: {author})",
        if signer.is_empty() {
            "no address bound to its key".to_string()
        } else {
            signer.join(", ")
        }
    ))
}

/// The address of the only From field of `headers`, which must hold
/// exactly one mailbox whose display name shows no other address.
fn single_from(headers: &Headers, which: &str) -> Result<String, String> {
    let fields = headers.mailboxes("From");
    let entries = match fields.as_slice() {
        [] => return Err(format!("the message has no {which}From field")),
        [entries] => entries,
        more => {
            return Err(format!(
                "the message has {} {which}From fields; a reader may be shown any of them",
                more.len()
            ))
        }
    };
    let [mailbox] = entries.as_slice() else {
        return Err(format!(
            "the {which}From field holds {} entries; a signature vouches for exactly one author",
            entries.len()
        ));
    };
    let Some(address) = mailbox.address.as_deref().filter(|a| a.contains('@')) else {
        return Err(format!("the {which}From field holds no address"));
    };
    let address = normalize_address(address);
    let name = mailbox.name.as_deref().unwrap_or("");
    if let Some(other) = addresses_in_text(name).find(|a| *a != address) {
        return Err(format!(
            "the display name of the {which}From field shows the address {other}, but the real address is {address}"
        ));
    }
    Ok(address)
}

/// Address-like words (`local@domain`) in free text, normalized.
fn addresses_in_text(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || "<>()[]\",;:".contains(c))
        .map(|word| word.trim_matches(|c: char| c == '.' || c == '\''))
        .filter(|word| {
            word.split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        })
        .map(normalize_address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> Headers {
        Headers::parse(text.as_bytes()).unwrap()
    }

    fn check(signer: &str, outer: &str, inner: Option<&str>) -> Result<(), String> {
        let outer = headers(outer);
        let inner = inner.map(headers);
        check_signer(
            &[signer.to_string()],
            &outer,
            inner.as_ref().unwrap_or(&outer),
        )
    }

    #[test]
    fn one_from_bound_to_the_signer() {
        assert_eq!(
            check("alice@x.example", "From: Alice <Alice@X.example>\n", None),
            Ok(())
        );
        assert_eq!(
            check(
                "alice@x.example",
                "From: \"alice@x.example\" <alice@x.example>\n",
                None
            ),
            Ok(())
        );
    }

    #[test]
    fn several_authors_never_bind() {
        let two_fields = check(
            "a@x.example",
            "From: a@x.example\nFrom: b@x.example\n",
            None,
        );
        assert!(two_fields.unwrap_err().contains("2 From fields"));
        let two_addresses = check("a@x.example", "From: a@x.example, b@x.example\n", None);
        assert!(two_addresses.unwrap_err().contains("2 entries"));
        let group = check(
            "a@x.example",
            "From: team: a@x.example, b@x.example;\n",
            None,
        );
        assert!(group.is_err());
        assert!(check("a@x.example", "Subject: none\n", None).is_err());
    }

    #[test]
    fn sender_is_not_the_author() {
        let err = check(
            "bob@x.example",
            "From: alice@x.example\nSender: bob@x.example\n",
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("signed by the sender, not the author"),
            "{err}"
        );
        assert!(err.contains("bob@x.example") && err.contains("alice@x.example"));
    }

    #[test]
    fn outer_and_protected_from_must_agree() {
        let err = check(
            "eve@x.example",
            "From: alice@x.example\n",
            Some("From: eve@x.example\n"),
        )
        .unwrap_err();
        assert!(err.contains("differs from the protected From"), "{err}");
        assert_eq!(
            check(
                "a@x.example",
                "From: a@x.example\n",
                Some("Content-Type: text/plain\n")
            ),
            Ok(())
        );
        let bare = check(
            "a@x.example",
            "Content-Type: text/plain\n",
            Some("From: a@x.example\n"),
        );
        assert_eq!(bare, Ok(()));
        let two_outside = check(
            "a@x.example",
            "From: a@x.example\nFrom: b@x.example\n",
            Some("From: a@x.example\n"),
        );
        assert!(two_outside.is_err());
    }

    #[test]
    fn display_name_with_another_address() {
        let err = check(
            "eve@corp.example",
            "From: manager@corp.example <eve@corp.example>\n",
            None,
        )
        .unwrap_err();
        assert!(
            err.contains("shows the address manager@corp.example"),
            "{err}"
        );
        let encoded = check(
            "eve@corp.example",
            "From: =?utf-8?q?manager=40corp=2Eexample?= <eve@corp.example>\n",
            None,
        );
        assert!(encoded.is_err());
    }
}
