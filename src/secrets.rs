//! Relay passwords: from the OS keyring, an environment variable or a
//! command, never from the configuration file itself.
//!
//! A password lives in a [`Secret`], whose `Debug` and `Display` print
//! `[redacted]`, so it cannot end up in an error, a log line or `--json`
//! output by accident. Error messages about a password source name the
//! source (the variable, the program), never the value.

use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    /// its standard output (at most 4096 bytes, printed within 30 s) is the
    /// password.
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
            Source::Command(words) => run_command(words, COMMAND_TIMEOUT).map_err(err),
        }
    }
}

/// How long a `command:` password program may take to print its line.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest first line a `command:` password program may print.
pub const MAX_COMMAND_LINE: usize = 4096;

/// Runs `words` (no shell) and returns the first line it prints, reading
/// at most [`MAX_COMMAND_LINE`] bytes and waiting at most `timeout`; the
/// program is stopped when either is exceeded. The error never contains
/// what the program printed.
fn run_command(words: &[String], timeout: Duration) -> std::result::Result<Secret, String> {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let program = &words[0];
    let mut child = Command::new(program)
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the first line; dropping the pipe afterwards stops a program
    // that goes on printing (SIGPIPE).
    std::thread::spawn(move || {
        let mut line = Zeroizing::new(Vec::new());
        let mut buf = Zeroizing::new([0u8; 1024]);
        let result = loop {
            match stdout.read(&mut buf[..]) {
                Ok(0) => break Ok(line),
                Ok(n) => {
                    let end = memchr::memchr(b'\n', &buf[..n]);
                    line.extend_from_slice(&buf[..end.unwrap_or(n)]);
                    if line.len() > MAX_COMMAND_LINE {
                        break Err(format!(
                            "it printed more than {MAX_COMMAND_LINE} bytes without a line break; a password is one short line"
                        ));
                    }
                    if end.is_some() {
                        break Ok(line);
                    }
                }
                Err(e) => break Err(format!("reading its output failed: {e}")),
            }
        };
        let _ = tx.send(result);
    });
    let started = Instant::now();
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let line = match rx.recv_timeout(timeout) {
        Ok(Ok(line)) => line,
        Ok(Err(reason)) => {
            stop(&mut child);
            return Err(format!("{program}: {reason}; it was stopped"));
        }
        Err(_) => {
            stop(&mut child);
            return Err(format!(
                "{program} printed no line within {}s; it was stopped (is it waiting for input, e.g. a pinentry?)",
                timeout.as_secs()
            ));
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(None) => {
                stop(&mut child);
                return Err(format!(
                    "{program} printed its line but did not exit within {}s; it was stopped",
                    timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {program} failed: {e}")),
        }
    };
    // Ended by SIGPIPE: it went on printing after the line we read.
    if !status.success() && status.signal() != Some(libc::SIGPIPE) {
        return Err(format!("{program} failed ({status})"));
    }
    let mut line: &[u8] = &line;
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| format!("{program} printed something that is not UTF-8"))?;
    if text.is_empty() {
        return Err(format!("{program} printed an empty first line"));
    }
    Ok(Secret::new(text.to_string()))
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
    fn command_that_hangs_is_stopped_at_the_timeout() {
        let words = vec!["sleep".to_string(), "1000".to_string()];
        let err = run_command(&words, Duration::from_secs(1)).unwrap_err();
        assert!(err.contains("no line within 1s"), "{err}");
        assert!(err.contains("stopped"), "{err}");
    }

    #[test]
    fn endless_output_is_capped() {
        // `yes`: the first line is taken, the rest is never read.
        let s = run_command(&["yes".into(), "pw-y".into()], Duration::from_secs(30)).unwrap();
        assert_eq!(s.expose(), "pw-y");
        // One endless line: refused once it passes the cap.
        let words = ["sh", "-c", "tr '\\0' a < /dev/zero"]
            .map(String::from)
            .to_vec();
        let err = run_command(&words, Duration::from_secs(30)).unwrap_err();
        assert!(err.contains("more than 4096 bytes"), "{err}");
        assert!(!err.contains("aaaa"), "{err}");
    }

    #[test]
    fn command_gives_first_line() {
        let s = Source::Command(vec!["printf".into(), "pw1\\nsecond\\n".into()])
            .fetch("r")
            .unwrap();
        assert_eq!(s.expose(), "pw1");
    }
}
