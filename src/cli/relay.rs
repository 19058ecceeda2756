//! `mailseal relay check`: connect to a relay, verify its TLS, log in, and
//! report, without sending mail.

use mailseal::submit::{self, Settings};
use mailseal::Result;

use super::Context;

/// Relays ([relay.NAME] in config.toml).
#[derive(clap::Subcommand)]
pub enum Command {
    /// Connect, verify TLS and log in (when a username is configured)
    /// without sending mail; report TLS version, cipher, the certificate's
    /// SPKI pin and the AUTH mechanisms offered inside TLS.
    ///
    /// Examples:
    ///   mailseal relay check
    ///   mailseal relay check work --json
    ///   mailseal relay check -v      # show the SMTP dialogue
    #[command(verbatim_doc_comment)]
    Check {
        /// The relay [default: default].
        #[arg(default_value = "default")]
        name: String,
        /// Show the SMTP dialogue on stderr (AUTH lines are [redacted]).
        #[arg(short, long)]
        verbose: bool,
    },
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    match command {
        Command::Check { name, verbose } => {
            let settings =
                Settings::from_config(&context.config, &context.home.config_file(), &name)?;
            let t = submit::check_blocking(&settings, context.trace(verbose))?;
            // Remembered for `status`, best effort.
            let _ = submit::hop::record(&context.home, &t);
            if context.json {
                context.print_json(&t)?;
            } else {
                println!(
                    "relay:       {} ({}:{}, {})",
                    t.relay, t.host, t.port, t.mode
                );
                println!("tls:         {} {}", t.tls_version, t.cipher_suite);
                println!(
                    "certificate: verified for {}{}",
                    t.server_name_verified,
                    if t.pin_checked { ", pin matched" } else { "" }
                );
                for (i, c) in t.certificate_chain.iter().enumerate() {
                    println!(
                        "  chain[{i}]:  {} (issued by {}), valid until {}",
                        c.subject.as_deref().unwrap_or("?"),
                        c.issuer.as_deref().unwrap_or("?"),
                        c.not_after.as_deref().unwrap_or("?")
                    );
                }
                if let Some(pin) = &t.spki_pin {
                    println!("pin:         {pin}");
                }
                println!(
                    "auth:        {}",
                    if t.auth_mechanisms.is_empty() {
                        "none offered".to_string()
                    } else {
                        t.auth_mechanisms.join(" ")
                    }
                );
                println!(
                    "login:       {}",
                    t.authenticated_as
                        .as_deref()
                        .map(|u| format!("ok as {u}"))
                        .unwrap_or_else(|| "not configured".into())
                );
            }
            Ok(0)
        }
    }
}
