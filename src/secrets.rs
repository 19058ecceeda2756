//! Relay passwords: from the OS keyring, an environment variable or a
//! command, never from the configuration file itself.
//!
//! A password lives in a [`Secret`], whose `Debug` and `Display` print
//! `[redacted]`, so it cannot end up in an error, a log line or `--json`
//! output by accident. Error messages about a password source name the
//! source (the variable, the program), never the value.

use std::fmt;
use std::process::{Command, Stdio};

use keyring_core::CredentialStore;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// The keyring service under which relay passwords are stored; the account
/// is the relay's name.
pub const KEYRING_SERVICE: &str = "mailseal";

/// A password or token. Only [`Secret::expose`] gives the value; the
/// memory is wiped when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Secret {
        Secret(Zeroizing::new(value))
    }

    /// The value, for the one place that needs it (the AUTH exchange).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a password comes from, as written in `password = "..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The OS keyring: service `mailseal`, account = relay name.
    Keyring,
    /// An environment variable.
    Env(String),
    /// A program and its arguments, run without a shell; the first line of
    /// its standard output is the password.
    Command(Vec<String>),
}

impl Source {
    /// Parses `keyring`, `env:VAR` or `command:PROGRAM ARGS`.
    pub fn parse(relay: &str, spec: &str) -> Result<Source> {
        let err = |reason: &str| Error::Secret {
            relay: relay.to_string(),
            reason: reason.to_string(),
        };
        if spec == "keyring" {
            return Ok(Source::Keyring);
        }
        if let Some(var) = spec.strip_prefix("env:") {
            if var.is_empty() {
                return Err(err("`env:` needs a variable name"));
            }
            return Ok(Source::Env(var.to_string()));
        }
        if let Some(command) = spec.strip_prefix("command:") {
            let words: Vec<String> = command.split_whitespace().map(String::from).collect();
            if words.is_empty() {
                return Err(err("`command:` needs a program"));
            }
            return Ok(Source::Command(words));
        }
        // Do not echo the value: it may be a password written in by mistake.
        Err(err(
            "`password` must be \"keyring\", \"env:VAR\" or \"command:PROGRAM ARGS\" (a password written in the file is not accepted)",
        ))
    }

    /// Fetches the password for `relay` from this source (the keyring is
    /// the default store).
    pub fn fetch(&self, relay: &str) -> Result<Secret> {
        self.fetch_in(None, relay)
    }

    /// Fetches the password for `relay`, reading the keyring `store` instead
    /// of the default one when given.
    pub fn fetch_in(&self, store: Option<&CredentialStore>, relay: &str) -> Result<Secret> {
        let err = |reason: String| Error::Secret {
            relay: relay.to_string(),
            reason,
        };
        match self {
            Source::Keyring => keyring_entry(store, relay)
                .and_then(|entry| entry.get_password())
                .map(Secret::new)
                .map_err(|e| {
                    err(format!(
                        "OS keyring (service {KEYRING_SERVICE}, account {relay}): {e}"
                    ))
                }),
            Source::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                Ok(_) => Err(err(format!("environment variable {var} is empty"))),
                Err(_) => Err(err(format!("environment variable {var} is not set"))),
            },
            Source::Command(words) => {
                let output = Command::new(&words[0])
                    .args(&words[1..])
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| err(format!("cannot run {}: {e}", words[0])))?;
                if !output.status.success() {
                    return Err(err(format!("{} failed ({})", words[0], output.status)));
                }
                let text = String::from_utf8(output.stdout).map_err(|_| {
                    err(format!("{} printed something that is not UTF-8", words[0]))
                })?;
                let first = text.lines().next().unwrap_or("").to_string();
                if first.is_empty() {
                    return Err(err(format!("{} printed an empty first line", words[0])));
                }
                Ok(Secret::new(first))
            }
        }
    }
}

/// The password of `relay` per its `password` setting, if it has one.
pub fn relay_password(relay: &str, spec: Option<&str>) -> Result<Option<Secret>> {
    spec.map(|spec| Source::parse(relay, spec)?.fetch(relay))
        .transpose()
}

/// The keyring entry for `relay` in `store`, or in the default store.
fn keyring_entry(
    store: Option<&CredentialStore>,
    relay: &str,
) -> keyring_core::Result<keyring_core::Entry> {
    match store {
        Some(store) => store.build(KEYRING_SERVICE, relay, None),
        None => keyring_core::Entry::new(KEYRING_SERVICE, relay),
    }
}

/// Stores `password` for `relay` in the OS keyring.
/// The secret stored in the OS keyring under `account` (service
/// `mailseal`), if a keyring is available and holds one.
pub fn keyring_secret(account: &str) -> Option<Secret> {
    keyring_core::get_default_store()?;
    keyring_entry(None, account)
        .and_then(|entry| entry.get_password())
        .ok()
        .map(Secret::new)
}

pub fn store_in_keyring(relay: &str, password: &Secret) -> Result<()> {
    store_in(None, relay, password)
}

/// Stores `password` for `relay` in `store`, or the default keyring.
pub fn store_in(store: Option<&CredentialStore>, relay: &str, password: &Secret) -> Result<()> {
    keyring_entry(store, relay)
        .and_then(|entry| entry.set_password(password.expose()))
        .map_err(|e| Error::Secret {
            relay: relay.to_string(),
            reason: format!("cannot store it in the OS keyring: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
    }

    #[test]
    fn sources_parse() {
        assert_eq!(Source::parse("r", "keyring").unwrap(), Source::Keyring);
        assert_eq!(
            Source::parse("r", "env:X").unwrap(),
            Source::Env("X".into())
        );
        assert_eq!(
            Source::parse("r", "command:pass show mail").unwrap(),
            Source::Command(vec!["pass".into(), "show".into(), "mail".into()])
        );
        let err = Source::parse("r", "hunter2").unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn keyring_round_trip_without_leaking() {
        // A private mock store: the process-wide default is left alone.
        let store: std::sync::Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let missing = Source::Keyring.fetch_in(Some(&*store), "work").unwrap_err();
        assert_eq!(missing.exit_code(), 78);
        store_in(Some(&*store), "work", &Secret::new("kr-pw-55".into())).unwrap();
        let got = Source::Keyring.fetch_in(Some(&*store), "work").unwrap();
        assert_eq!(got.expose(), "kr-pw-55");
    }

    #[test]
    fn failing_command_does_not_echo_its_output() {
        let err = Source::Command(vec![
            "sh".into(),
            "-c".into(),
            "echo leaked-77; exit 3".into(),
        ])
        .fetch("r")
        .unwrap_err()
        .to_string();
        assert!(!err.contains("leaked-77"), "{err}");
    }

    #[test]
    fn command_gives_first_line() {
        let s = Source::Command(vec!["printf".into(), "pw1\\nsecond\\n".into()])
            .fetch("r")
            .unwrap();
        assert_eq!(s.expose(), "pw1");
    }
}
