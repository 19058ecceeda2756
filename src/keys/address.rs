//! The address a user ID names, exactly as sequoia's
//! `UserID::email_normalized` gives it.
//!
//! Sequoia parses a user ID with a regular expression that it compiles on
//! first use; compiling it took about a fifth of a short `encrypt`'s time
//! and a third of its page faults. The two shapes nearly every user ID
//! has, a bare address (`alice@example.org`) and a plain name before an
//! address in angle brackets (`Alice Liddell <alice@example.org>`), are
//! recognized here without it; every other user ID goes to sequoia. A
//! user ID recognized here is one that sequoia's grammar can only read
//! one way (see [`plain_address`]), and the address is normalized as
//! sequoia normalizes it, so both give the same answer; the tests hold
//! the two side by side.

use sequoia_openpgp::packet::UserID;

/// The normalized address `userid` names, if any: what
/// `userid.email_normalized()` gives, with an error as None.
pub fn userid_address(userid: &UserID) -> Option<String> {
    match plain_address(userid.value()) {
        Some(address) => normalized(address),
        None => userid.email_normalized().ok().flatten(),
    }
}

/// The address in a user ID of one of two shapes, in ASCII but for the
/// name: `ADDR`, or `NAME <ADDR>` / `<ADDR>`, where ADDR is a dot-atom,
/// `@`, a dot-atom (RFC 5322 §3.2.3, as sequoia's grammar has it) and
/// NAME starts with a letter or digit and holds only letters, digits,
/// spaces, `.`, `'`, `-`, `_` and non-ASCII characters. None for
/// anything else.
///
/// Sequoia's grammar tries a bare address first, then a URI, then an
/// address in brackets after an optional name and comment. A string of
/// the first shape is a bare address. One of the second has a `<`, which
/// neither a bare address nor a URI may hold; its only `<` opens the
/// address, which runs to the final `>`, and what comes before matches
/// the grammar's name (whose characters include all of NAME's).
fn plain_address(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    if is_addr_spec(value) {
        return Some(value);
    }
    let (name, bracketed) = value.split_once('<')?;
    let address = bracketed.strip_suffix('>')?;
    (is_plain_name(name) && is_addr_spec(address)).then_some(address)
}

/// `local@domain`, each a dot-atom of ASCII atext.
fn is_addr_spec(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(local, domain)| is_dot_atom(local) && is_dot_atom(domain))
}

/// Runs of ASCII atext joined by single dots.
fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|run| !run.is_empty() && run.bytes().all(is_ascii_atext))
}

/// RFC 5322 atext in ASCII: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
fn is_ascii_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Empty, or a name as [`plain_address`] allows it.
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        None => true,
        Some(first) => {
            (first.is_ascii_alphanumeric() || !first.is_ascii())
                && chars.all(|c| c.is_ascii_alphanumeric() || !c.is_ascii() || " .'-_".contains(c))
        }
    }
}

/// `address` as sequoia normalizes it: the domain through IDNA (UTS #46)
/// to ASCII, then all of it in lower case; None where IDNA refuses.
fn normalized(address: &str) -> Option<String> {
    let (local, domain) = address.split_once('@')?;
    let domain = idna::domain_to_ascii(domain).ok()?;
    Some(format!("{local}@{domain}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequoia(value: &str) -> Option<String> {
        UserID::from(value).email_normalized().ok().flatten()
    }

    /// Each user ID gives what sequoia gives; `plain` says whether it
    /// was recognized here (so that the fast path is what is tested).
    fn check(value: &str, plain: bool) {
        assert_eq!(
            plain_address(value.as_bytes()).is_some(),
            plain,
            "{value:?} recognized here"
        );
        assert_eq!(
            userid_address(&UserID::from(value)),
            sequoia(value),
            "{value:?}"
        );
    }

    #[test]
    fn common_shapes_are_read_here_as_sequoia_reads_them() {
        for value in [
            "alice@example.org",
            "Alice@Example.ORG",
            "<alice@example.org>",
            "Alice Liddell <alice@example.org>",
            "Alice Liddell  <ALICE@example.org>",
            "José Núñez <jose@example.org>",
            "O'Brien-Smith Jr. <o.b+tag@mail.example.org>",
            "bob_b <bob@xn--bcher-kva.example>",
            "x@xn--zz.example",
            "x@a--b.example",
            "x@-a.example",
            "x@a_b.example",
            "x@Example.COM",
            "!#$%&'*+-/=?^_`{|}~@example.org",
            "K@example.org",
        ] {
            check(value, true);
        }
    }

    #[test]
    fn other_shapes_go_to_sequoia() {
        for value in [
            "",
            "Alice",
            "Alice (work) <alice@example.org>",
            "Alice <alice@example.org> (work)",
            "Alice <alice@example.org> ",
            " Alice <alice@example.org>",
            "\"Alice\" <alice@example.org>",
            "Alice, Bob <alice@example.org>",
            "Alice <bob@example.org> <alice@example.org>",
            "Alice <<alice@example.org>>",
            "Alice <alice@example.org",
            "Alice\t<alice@example.org>",
            "Alice <alice@bücher.example>",
            "Alice <alicé@example.org>",
            "\u{212a}ate <\u{212a}ate@example.org>",
            "İ@example.org",
            "alice@@example.org",
            "alice@example..org",
            ".alice@example.org",
            "alice.@example.org",
            "alice@example.org.",
            "alice",
            "@example.org",
            "alice@",
            "mailto:alice@example.org",
            "<mailto:alice@example.org>",
            "Alice <mailto:alice@example.org>",
            "alice@example.org\n",
            "alice@exa mple.org",
        ] {
            check(value, false);
        }
    }

    /// Random user IDs, built as name, address and suffix from pieces
    /// that steer sequoia's grammar: whatever is recognized here, sequoia
    /// reads the same way.
    #[test]
    fn agrees_with_sequoia_on_random_user_ids() {
        const TRICKY: &[&str] = &[
            "", "", "", " ", ".", "..", "@", "<", ">", "(", ")", "\"", "\\", ",", ";", ":", "[",
            "]", "'", "-", "_", "+", "\t", "é", "ß", "\u{212a}", "İ", "xn--", "mailto:", "\u{0}",
            "\n",
        ];
        const WORDS: &[&str] = &[
            "a", "Z", "0", "alice", "Bob", "example", "org", "x-y", "o'b",
        ];
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: usize| rng.below(n);
        // Up to `words` words, some with a tricky piece or a dot after.
        fn part(next: &mut impl FnMut(usize) -> usize, words: usize) -> String {
            (0..1 + next(words))
                .map(|_| {
                    let word = WORDS[next(WORDS.len())];
                    match next(4) {
                        0 => format!("{word}{}", TRICKY[next(TRICKY.len())]),
                        1 => format!("{word}."),
                        _ => word.to_string(),
                    }
                })
                .collect()
        }
        let mut recognized = 0;
        for _ in 0..20_000 {
            let name = if next(2) == 0 {
                String::new()
            } else {
                part(&mut next, 3) + " "
            };
            let (open, close) = if next(3) == 0 { ("", "") } else { ("<", ">") };
            let address = format!("{}@{}", part(&mut next, 2), part(&mut next, 3));
            let suffix = if next(4) == 0 {
                TRICKY[next(TRICKY.len())]
            } else {
                ""
            };
            let value = format!("{name}{open}{address}{close}{suffix}");
            if plain_address(value.as_bytes()).is_some() {
                recognized += 1;
            }
            assert_eq!(
                userid_address(&UserID::from(value.as_str())),
                sequoia(&value),
                "{value:?}"
            );
        }
        // The fast path must be what is tested, not only the fallback.
        assert!(recognized > 2_000, "only {recognized} recognized here");
    }

    #[test]
    fn a_user_id_that_is_not_utf8_names_no_address() {
        let userid = UserID::from(&b"Alice <alice@example.org\xff>"[..]);
        assert_eq!(userid_address(&userid), None);
        assert_eq!(userid.email_normalized().ok().flatten(), None);
    }
}
