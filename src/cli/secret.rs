//! `mailseal secret set RELAY`: store a relay password in the OS keyring.

use std::io::{BufRead, IsTerminal};

use mailseal::secrets::{self, Secret};
use mailseal::{Error, Result};

use super::Context;

/// Relay passwords in the OS keyring (service "mailseal", account = relay).
#[derive(clap::Subcommand)]
pub enum Command {
    /// Store the password of [relay.RELAY] in the OS keyring, from a prompt
    /// on a terminal or the first line of stdin. Use it with
    /// `password = "keyring"`. `secret set agent` stores the password mail
    /// clients log in to `mailseal agent` with.
    ///
    /// Examples:
    ///   mailseal secret set default
    ///   pass show mail | mailseal secret set work
    ///   mailseal secret set agent
    #[command(verbatim_doc_comment)]
    Set {
        /// The relay's name.
        relay: String,
    },
}

pub fn run(context: &Context, command: Command) -> Result<u8> {
    match command {
        Command::Set { relay } => {
            let password = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("Password for relay {relay}: "))
                    .map_err(|e| Error::io("reading the password", e))?
            } else {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| Error::io("reading the password from stdin", e))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            };
            if password.is_empty() {
                return Err(Error::Usage("the password is empty".into()));
            }
            secrets::store_in_keyring(&relay, &Secret::new(password))?;
            context.note(&format!(
                "mailseal: stored the password of relay {relay} in the OS keyring"
            ));
            Ok(0)
        }
    }
}
