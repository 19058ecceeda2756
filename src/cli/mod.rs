//! Command-line definitions (clap derive) and dispatch; one file per command.

mod agent;
mod cert;
mod cert_locate;
mod completions;
mod decrypt;
mod encrypt;
mod key;
mod man;
mod paint;
mod queue;
mod relay;
mod secret;
mod send;
mod sendmail;
mod sign;
mod smime;
mod status;
mod verify;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use mailseal::config::Config;
use mailseal::discover::Discovery;
use mailseal::home::Home;
use mailseal::keys::{CertStore, SecretKeys, Unlocker};
use mailseal::{Error, Result};

/// Seal email end to end: sign and encrypt RFC 5322 messages with OpenPGP
/// (PGP/MIME) or S/MIME, and open them again.
#[derive(Parser)]
#[command(name = "mailseal", version, about, long_about = None)]
#[command(after_help = "Examples:
  mailseal encrypt message.eml > sealed.eml
  mailseal decrypt sealed.eml -o message.eml
  mailseal key generate alice@example.org
  mailseal cert import bob.asc
  mailseal cert locate bob@example.net
  mailseal status bob@example.net
  mailseal encrypt --smime message.eml > sealed.eml

Exit codes: 0 ok, 1 bad or missing signature, 64 usage, 65 malformed input,
66 input missing, 67 no usable key, 69 not accepted by the relay (5xx),
74 I/O error, 75 temporary failure (try again later), 77 refused (TLS,
login, permissions, passphrase, an algorithm or unauthenticated content
refused by policy), 78 bad configuration.")]
pub struct Cli {
    /// Directory for configuration and state [default: XDG directories].
    #[arg(long, global = true, env = "MAILSEAL_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    /// Machine-readable output on stdout, for commands that report.
    #[arg(long, global = true)]
    json: bool,

    /// Read the passphrase of protected keys from the first line of FILE
    /// (the file must not be readable by others).
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,

    /// Say less: only errors.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Encrypt(encrypt::Args),
    Sign(sign::Args),
    Decrypt(decrypt::Args),
    Verify(verify::Args),
    #[command(subcommand)]
    Key(key::Command),
    #[command(subcommand)]
    Cert(cert::Command),
    Send(send::Args),
    Sendmail(sendmail::Args),
    #[command(subcommand)]
    Relay(relay::Command),
    #[command(subcommand)]
    Secret(secret::Command),
    Status(status::Args),
    Agent(agent::Args),
    #[command(subcommand)]
    Queue(queue::Command),
    Completions(completions::Args),
    Man(man::Args),
}

/// What every command needs: the home, the configuration, output style.
pub struct Context {
    pub home: Home,
    pub config: Config,
    pub json: bool,
    pub quiet: bool,
    pub unlocker: Unlocker,
}

impl Context {
    /// Others' certificates.
    pub fn cert_store(&self) -> Result<CertStore> {
        CertStore::open(&self.home.cert_dir(), &self.home.cert_index_file())
    }

    /// Opens received messages (decrypt, verify) with this home's keys;
    /// plaintext waiting for its check spills to `spill_dir`.
    pub fn opener<'a>(
        &'a self,
        options: mailseal::openpgp::OpenOptions,
        spill_dir: &'a Path,
    ) -> mailseal::open::Opener<'a> {
        mailseal::open::Opener {
            home: &self.home,
            config: &self.config,
            unlocker: &self.unlocker,
            options,
            spill_dir,
        }
    }

    /// Own secret keys.
    pub fn secret_keys(&self) -> SecretKeys {
        SecretKeys::new(&self.home.openpgp_key_dir())
    }

    /// The sealer for messages from `sender`, with this home's keys,
    /// records and policy.
    pub fn sealer<'a>(
        &'a self,
        store: &'a CertStore,
        own: &'a SecretKeys,
        discovery: Option<&'a Discovery>,
        sender: &str,
    ) -> Result<mailseal::seal::Sealer<'a>> {
        mailseal::seal::Sealer::in_home(
            &self.config,
            &self.unlocker,
            &self.home,
            store,
            own,
            discovery,
            sender,
        )
    }

    /// Key discovery while sealing, when `discovery.auto` is on; its
    /// requests and queries go to `trace` (`-v`).
    pub fn discovery(&self, trace: Option<mailseal::submit::Trace>) -> Result<Option<Discovery>> {
        if !self.config.discovery.auto {
            return Ok(None);
        }
        Ok(Some(
            Discovery::new(&self.home, &self.config)?.traced(trace),
        ))
    }

    /// Prints what discovery did while sealing.
    pub fn discovery_notes(&self, discovery: Option<&Discovery>) {
        for note in discovery.map(Discovery::take_notes).unwrap_or_default() {
            self.note(&note);
        }
    }

    /// Own S/MIME keys.
    pub fn smime_keys(&self) -> mailseal::keys::smime::OwnKeys {
        mailseal::keys::smime::OwnKeys::new(&self.home.smime_key_dir())
    }

    /// Others' X.509 certificates.
    pub fn smime_certs(&self) -> mailseal::keys::smime::CertStore {
        mailseal::keys::smime::CertStore::new(&self.home.smime_cert_dir())
    }

    /// A note for the person on stderr, unless `--quiet`.
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// Where the SMTP dialogue goes with `-v`: stderr.
    pub fn trace(&self, verbose: bool) -> Option<mailseal::submit::Trace> {
        verbose.then(|| {
            std::sync::Arc::new(|line: &str| eprintln!("{line}")) as mailseal::submit::Trace
        })
    }

    /// Prints `value` as JSON on stdout.
    pub fn print_json(&self, value: &impl serde::Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value).expect("serializable");
        writeln!(std::io::stdout(), "{text}").map_err(|e| Error::io("writing to stdout", e))
    }
}

/// Opens FILE, or stdin when it is absent or `-`, for reading as a stream;
/// with FILE's size.
pub fn open_input(path: Option<&Path>) -> Result<(Box<dyn Read + Send + Sync>, Option<u64>)> {
    match path.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            let missing = |source| Error::InputMissing {
                path: path.to_path_buf(),
                source,
            };
            let file = std::fs::File::open(path).map_err(missing)?;
            let size = file.metadata().map_err(missing)?.len();
            Ok((Box::new(file), Some(size)))
        }
        None => Ok((Box::new(std::io::stdin()), None)),
    }
}

/// Reads FILE, or stdin when it is absent or `-`.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    match path.filter(|p| *p != Path::new("-")) {
        Some(path) => {
            data = std::fs::read(path).map_err(|source| Error::InputMissing {
                path: path.to_path_buf(),
                source,
            })?
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut data)
                .map_err(|e| Error::io("reading stdin", e))?;
        }
    }
    Ok(data)
}

/// Opens FILE to be read more than once; stdin (FILE absent or `-`), or a
/// FILE that is not a regular file, is first copied to an unlinked
/// temporary file (mode 0600) that disappears with the returned handle.
pub fn open_rereadable(path: Option<&Path>) -> Result<std::fs::File> {
    let path = path.filter(|p| *p != Path::new("-"));
    let mut source: Box<dyn Read> = match path {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|source| Error::InputMissing {
                path: path.to_path_buf(),
                source,
            })?;
            if file.metadata().is_ok_and(|m| m.is_file()) {
                return Ok(file);
            }
            Box::new(file)
        }
        None => Box::new(std::io::stdin().lock()),
    };
    let spool_error = |e| Error::io("copying the input to a temporary file", e);
    let mut spool = tempfile::tempfile().map_err(spool_error)?;
    std::io::copy(&mut source, &mut spool).map_err(spool_error)?;
    std::io::Seek::rewind(&mut spool).map_err(spool_error)?;
    Ok(spool)
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    if let Ok(store) = linux_keyutils_keyring_store::Store::new() {
        keyring_core::set_default_store(store);
    }
    let cli = match Cli::try_parse_from(sendmail_argv(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 64 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mailseal: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// Invoked as `sendmail` (a link named so): `mailseal sendmail ARGS...`;
/// as `mailq`: `mailseal sendmail -bp`. After the `sendmail` subcommand,
/// `-q` is sendmail's (run the queue), not `--quiet`: it becomes
/// `--queue-run`.
fn sendmail_argv(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let name = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    match name.as_str() {
        "sendmail" => drop(argv.splice(0..1, ["mailseal".into(), "sendmail".into()])),
        "mailq" => drop(argv.splice(0..1, ["mailseal".into(), "sendmail".into(), "-bp".into()])),
        _ => {}
    }
    // The subcommand is the first word that is neither an option nor the
    // value of --home or --passphrase-file.
    let mut i = 1;
    while i < argv.len() {
        match argv[i].to_str() {
            Some("--home" | "--passphrase-file") => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    if argv.get(i).and_then(|a| a.to_str()) != Some("sendmail") {
        return argv;
    }
    for arg in &mut argv[i + 1..] {
        match arg.to_str() {
            Some("--") => break,
            Some("-q") => *arg = "--queue-run".into(),
            Some(a) if a.starts_with("-q") => *arg = format!("--queue-run={}", &a[2..]).into(),
            _ => {}
        }
    }
    argv
}

fn run(cli: Cli) -> Result<u8> {
    if let Command::Completions(args) = &cli.command {
        return completions::run(args, &mut Cli::command());
    }
    if let Command::Man(args) = &cli.command {
        return man::run(args, Cli::command());
    }
    let home = Home::locate(cli.home)?;
    let context = Context {
        config: home.load_config()?,
        home,
        json: cli.json,
        quiet: cli.quiet,
        unlocker: Unlocker {
            passphrase_file: cli.passphrase_file,
        },
    };
    match cli.command {
        Command::Encrypt(args) => encrypt::run(&context, args),
        Command::Sign(args) => sign::run(&context, args),
        Command::Decrypt(args) => decrypt::run(&context, args),
        Command::Verify(args) => verify::run(&context, args),
        Command::Key(command) => key::run(&context, command),
        Command::Cert(command) => cert::run(&context, command),
        Command::Send(args) => send::run(&context, args),
        Command::Sendmail(args) => sendmail::run(&context, args),
        Command::Relay(command) => relay::run(&context, command),
        Command::Secret(command) => secret::run(&context, command),
        Command::Status(args) => status::run(&context, args),
        Command::Agent(args) => agent::run(&context, args),
        Command::Queue(command) => queue::run(&context, command),
        Command::Completions(_) | Command::Man(_) => unreachable!("handled above"),
    }
}
