//! Delivery status notifications (RFC 3464): when a queued message fails
//! for good (the relay answered 5xx, or it was not delivered within the
//! maximum age), its envelope sender gets a report through the relay, so
//! that cron, scripts and Postfix users learn of it.
//!
//! The report is a `multipart/report` (RFC 6522) with a human-readable
//! part, a `message/delivery-status` part and the headers of the copy that
//! was not delivered (as they went on the wire). It is written from and to
//! the sender's address and sealed like any message from them: signed with
//! their key when they have one (encrypted to them when policy allows). It
//! is sent with the null sender `<>`, and a message whose sender is `<>` (a
//! bounce) never gets one, so reports cannot loop. The failed message
//! stays in the failed list.

use super::intake;
use super::spool::{now, Entry, Spool, State};
use crate::config::Config;
use crate::home::Home;
use crate::keys::Unlocker;
use crate::message::mime::new_boundary;
use crate::Result;

/// Seals and queues a report on message `entry` (`heads`: the header
/// section of each of its sealed copies; failed with `state.failed`) for
/// its envelope sender. `None` when the sender is `<>`. Returns the
/// report's queue id.
#[allow(clippy::too_many_arguments)]
pub fn bounce(
    spool: &Spool,
    config: &Config,
    home: &Home,
    unlocker: &Unlocker,
    hostname: &str,
    entry: &Entry,
    heads: &[Vec<u8>],
    state: &State,
) -> Result<Option<String>> {
    if entry.from.is_empty() {
        return Ok(None);
    }
    let report = report(hostname, entry, heads, state);
    let rcpts = [entry.from.clone()];
    let mut sealed = std::io::Cursor::new(Vec::new());
    let intake = intake::seal_message(
        config,
        home,
        unlocker,
        true,
        &rcpts,
        &mut std::io::Cursor::new(report),
        &mut sealed,
    )?;
    let mut dsn = Entry {
        id: String::new(),
        received: now(),
        from: String::new(),
        client: format!("delivery report on {}", entry.id),
        user: None,
        copies: intake.copies,
        dsn: crate::submit::Dsn::default(),
        relay: None,
    };
    spool.enqueue_from(&mut dsn, &mut sealed.get_ref().as_slice())?;
    Ok(Some(dsn.id))
}

/// The RFC 3464 report (CRLF line ends).
fn report(hostname: &str, entry: &Entry, heads: &[Vec<u8>], state: &State) -> Vec<u8> {
    let reason = state.failed.as_deref().unwrap_or("unknown");
    let undelivered: Vec<usize> = (0..entry.copies.len())
        .filter(|i| !state.delivered.contains(i))
        .collect();
    let recipients: Vec<&str> = undelivered
        .iter()
        .flat_map(|&i| entry.copies[i].to.iter().map(String::as_str))
        .collect();
    let status = status_code(reason);
    let boundary = new_boundary();
    let sender = &entry.from;
    let mut out = format!(
        "From: Mail Delivery System (mailseal agent) <{sender}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {}\r\n\
         Message-ID: <dsn.{}@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         This is the mailseal agent on {hostname}.\r\n\
         \r\n\
         Your message (queue id {id}) could not be delivered to:\r\n\
         \r\n",
        rfc5322_date(now()),
        entry.id,
        id = entry.id,
    );
    for r in &recipients {
        out.push_str(&format!("    <{r}>\r\n"));
    }
    out.push_str(&format!(
        "\r\nReason: {reason}\r\n\
         \r\n\
         It stays in the failed list (`mailseal queue list`); after fixing the cause,\r\n\
         `mailseal queue retry {id}` sends it again.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         Reporting-MTA: dns; {hostname}\r\n\
         X-Mailseal-Queue-ID: {id}\r\n\
         Arrival-Date: {arrival}\r\n",
        id = entry.id,
        arrival = rfc5322_date(entry.received),
    ));
    for r in &recipients {
        out.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {r}\r\nAction: failed\r\nStatus: {status}\r\n"
        ));
        if let Some(reply) = relay_reply(reason) {
            out.push_str(&format!("Diagnostic-Code: smtp; {reply}\r\n"));
        }
    }
    out.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    if let Some(head) = undelivered.first().and_then(|&i| heads.get(i)) {
        out.push_str(&String::from_utf8_lossy(head));
        out.push_str("\r\n");
    }
    out.push_str(&format!("\r\n--{boundary}--\r\n"));
    out.into_bytes()
}

/// The enhanced status code (RFC 3463) in the relay's reply, else 5.0.0,
/// or 4.4.7 (delivery time expired) for a message that was too old.
fn status_code(reason: &str) -> String {
    let found = reason.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match found {
        Some(code) if code.starts_with('5') => code.to_string(),
        _ if reason.starts_with("not delivered within") => "4.4.7".into(),
        _ => "5.0.0".into(),
    }
}

/// The relay's reply within `reason`: from its 3-digit code on.
fn relay_reply(reason: &str) -> Option<&str> {
    let mut offset = 0;
    for word in reason.split(' ') {
        let code = word.as_bytes();
        if code.len() == 3 && matches!(code[0], b'4' | b'5') && code.iter().all(u8::is_ascii_digit)
        {
            return Some(&reason[offset..]);
        }
        offset += word.len() + 1;
    }
    None
}

/// `secs` since the epoch as an RFC 5322 date in UTC.
fn rfc5322_date(secs: u64) -> String {
    crate::seal::rfc5322_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_status_codes() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_796_101_722),
            "Tue, 01 Dec 2026 05:08:42 +0000"
        );
        assert_eq!(status_code("554 5.7.1 no thanks"), "5.7.1");
        assert_eq!(
            status_code("not delivered within 1s (3 attempts); last error: 451 4.3.0 x"),
            "4.4.7"
        );
        assert_eq!(status_code("550 mailbox unavailable"), "5.0.0");
        assert_eq!(
            relay_reply("not accepted: RCPT TO:<b@x>: 550 5.1.1 no such user"),
            Some("550 5.1.1 no such user")
        );
        assert_eq!(relay_reply("connection refused"), None);
    }
}
