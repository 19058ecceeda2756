//! `mailseal queue`: what the agent has queued, and what to do with it.

use std::sync::Arc;

use mailseal::agent::spool::{Listed, Request, Spool, Status};
use mailseal::agent::worker::Outcome;
use mailseal::agent::{self, Settings};
use mailseal::Result;

use super::Context;

/// The agent's queue (HOME/spool): messages accepted and not yet
/// delivered, and those that failed for good.
#[derive(clap::Subcommand)]
pub enum Command {
    /// List queued and failed messages: id, age, sender, recipients, how
    /// each copy is sealed, attempts, the next attempt and the last error.
    ///
    /// Examples:
    ///   mailseal queue list
    ///   mailseal queue list --json
    #[command(verbatim_doc_comment)]
    List,
    /// Retry every queued message now. A running agent is asked to do it;
    /// with no agent running, this command delivers them itself and reports
    /// (exit 75 when some are still queued afterwards).
    ///
    /// Examples:
    ///   mailseal queue flush
    #[command(verbatim_doc_comment)]
    Flush,
    /// Retry message ID now; a failed message goes back into the queue
    /// (its maximum age counts from now).
    ///
    /// Examples:
    ///   mailseal queue retry 19ab3c0f2e1a4b5c6d7
    #[command(verbatim_doc_comment)]
    Retry {
        /// The message's id (from `queue list`).
        id: String,
    },
    /// Remove message ID from the queue (or the failed list) without
    /// sending it. A message being delivered at that moment may still
    /// arrive.
    ///
    /// Examples:
    ///   mailseal queue drop 19ab3c0f2e1a4b5c6d7
    #[command(verbatim_doc_comment)]
    Drop {
        /// The message's id (from `queue list`).
        id: String,
    },
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    let spool = Spool::open(&context.home.spool_dir())?;
    match command {
        Command::List => {
            let listed = spool.list()?;
            if context.json {
                context.print_json(&listed)?;
            } else if listed.is_empty() {
                context.note("mailseal: the queue is empty");
            } else {
                for item in &listed {
                    println!("{}", describe(item));
                }
            }
            Ok(0)
        }
        Command::Flush => {
            let settings =
                Settings::from_config(&context.config, &context.home.config_file(), None)?;
            let quiet = context.quiet;
            let log: agent::Log = Arc::new(move |line: &str| {
                if !quiet {
                    eprintln!("mailseal: {line}");
                }
            });
            match agent::flush_queue(
                &context.home,
                &context.config,
                &context.unlocker,
                &settings,
                log,
            )? {
                None => {
                    context.note(
                        "mailseal: asked the running agent to retry every queued message now",
                    );
                    Ok(0)
                }
                Some(results) => {
                    let left = results
                        .iter()
                        .filter(|(_, o)| {
                            matches!(o, Outcome::Deferred { .. } | Outcome::Held { .. })
                        })
                        .count();
                    let failed = results
                        .iter()
                        .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
                        .count();
                    context.note(&format!(
                        "mailseal: {} delivered, {left} still queued, {failed} failed",
                        results.len() - left - failed
                    ));
                    Ok(if left > 0 { 75 } else { 0 })
                }
            }
        }
        Command::Retry { id } => {
            let was = spool.retry(&id)?;
            if spool.is_locked() {
                spool.request(Request::Rescan)?;
            }
            context.note(&format!(
                "mailseal: {id} {}; it is retried now by a running agent, or at its next start or `mailseal queue flush`",
                if was == Status::Failed { "is back in the queue" } else { "is due now" }
            ));
            Ok(0)
        }
        Command::Drop { id } => {
            let was = spool.remove(&id)?;
            context.note(&format!(
                "mailseal: dropped {id} ({})",
                if was == Status::Failed {
                    "failed"
                } else {
                    "queued"
                }
            ));
            Ok(0)
        }
    }
}

fn describe(item: &Listed) -> String {
    let e = &item.entry;
    let s = &item.state;
    let now = mailseal::agent::spool::now();
    let ago = |t: u64| {
        humantime::format_duration(std::time::Duration::from_secs(now.saturating_sub(t)))
            .to_string()
    };
    let status = match item.status {
        Status::Queued => "queued",
        Status::Failed => "FAILED",
    };
    if let Some(why) = &item.damaged {
        return format!(
            "{}  {status}  DAMAGED  received {} ago\n    {why}\n    it cannot be delivered as it is; inspect it, then `mailseal queue drop {}`",
            e.id,
            ago(e.received),
            e.id
        );
    }
    let mut text = format!(
        "{}  {status}  received {} ago  from {}",
        e.id,
        ago(e.received),
        if e.from.is_empty() { "<>" } else { &e.from }
    );
    for (i, copy) in e.copies.iter().enumerate() {
        text.push_str(&format!(
            "\n    to {}{}: {}, {} bytes{}",
            copy.to.join(", "),
            if copy.bcc { " (bcc, own copy)" } else { "" },
            copy.sealing,
            copy.size,
            if s.delivered.contains(&i) {
                ", delivered"
            } else {
                ""
            }
        ));
    }
    text.push_str(&format!("\n    attempts: {}", s.attempts));
    if item.status == Status::Queued && s.attempts > 0 {
        let next = if s.next_attempt > now {
            format!(
                "in {}",
                humantime::format_duration(std::time::Duration::from_secs(s.next_attempt - now))
            )
        } else {
            "now".into()
        };
        text.push_str(&format!(", next attempt {next}"));
    }
    if let Some(reason) = &s.failed {
        text.push_str(&format!("\n    failed: {reason}"));
        if let Some(report) = &s.report {
            text.push_str(&format!(
                "\n    the sender was sent a delivery report (queued as {report})"
            ));
        }
    } else if let Some(error) = &s.last_error {
        text.push_str(&format!("\n    last error: {error}"));
    }
    text
}
