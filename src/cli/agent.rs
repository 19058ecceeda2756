//! `mailseal agent`: the local SMTP submission agent, and `agent info`.

use std::io::IsTerminal;
use std::sync::Arc;

use mailseal::agent::{self, spool, tls, Access, Agent, Settings};
use mailseal::{Error, Result};
use serde::Serialize;

use super::Context;

/// Run the local SMTP submission agent: point a mail client's outgoing
/// server at it and every message is sealed per [policy], queued on disk
/// and submitted through the relay with enforced TLS.
///
/// The agent listens on [agent] listen (default 127.0.0.1:1587) and offers
/// STARTTLS with a local certificate made on first start (its fingerprint:
/// `mailseal agent info`). Clients log in with [agent] username (default
/// "mailseal") and the password from [agent] password (default: the OS
/// keyring, `mailseal secret set agent`). While the client waits, the
/// message is sealed; if policy requires encryption that is impossible for
/// a recipient, the client gets 550 naming the recipient and nothing is
/// queued. A message is answered 250 only once it is safely on disk.
/// Delivery is retried with growing delays for [agent] max_age (default
/// 5d); permanent failures go to the failed list (`mailseal queue list`).
///
/// A passphrase-protected signing key is unlocked with --passphrase-file,
/// MAILSEAL_PASSPHRASE or the OS keyring; the agent never prompts.
///
/// With [agent] listen_implicit = "127.0.0.1:1465" it also listens for
/// clients set to "SSL/TLS" (TLS from the first byte, same certificate).
///
/// Logs go to stderr (or --log-file), one line per connection and per
/// delivery attempt, each starting with an RFC 3339 time; the first line
/// names the address listened on; -v adds the SMTP dialogue (AUTH data
/// shows as [redacted], message data only as its size). SIGHUP reloads
/// config.toml, the relay and the passwords; if anything in the new
/// configuration is wrong, that is logged and the old one is kept.
/// SIGTERM or SIGINT stops it cleanly; queued mail is delivered at the
/// next start.
///
/// Examples:
///   mailseal agent
///   mailseal agent --listen 127.0.0.1:2587
///   mailseal agent -v --log-file ~/.local/state/mailseal-agent.log
///   kill -HUP $(pgrep -f 'mailseal agent')     # reload the configuration
///   mailseal agent info
#[derive(clap::Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Listen on ADDR (IP:PORT) instead of [agent] listen; port 0 picks a
    /// free port (the first log line and `agent info` show it).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Append the log to FILE (created 0600; reopened for every line, so
    /// log rotation needs no signal) instead of writing it on stderr.
    #[arg(long, value_name = "FILE")]
    log_file: Option<std::path::PathBuf>,
    /// Also log the SMTP dialogue of every connection (passwords and
    /// message data are never logged).
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// What to type into a mail client, the certificate's fingerprint, and
    /// whether the agent is running (never the password itself).
    ///
    /// Examples:
    ///   mailseal agent info
    ///   mailseal agent info --json
    #[command(verbatim_doc_comment)]
    Info,
}

pub fn run(context: &Context, args: Args) -> Result<u8> {
    let settings = Settings::from_config(
        &context.config,
        &context.home.config_file(),
        args.listen.as_deref(),
    )?;
    match args.command {
        Some(Command::Info) => info(context, &settings),
        None => {
            // Passphrases of protected keys come from --passphrase-file,
            // MAILSEAL_PASSPHRASE or the keyring: a terminal prompt in the
            // middle of a client's transaction would hang it, and the key
            // code prompts only when stdin is a terminal.
            if std::io::stdin().is_terminal() {
                let null = std::fs::File::open("/dev/null")
                    .map_err(|e| Error::io("opening /dev/null", e))?;
                rustix::stdio::dup2_stdin(&null)
                    .map_err(|e| Error::io("detaching stdin", e.into()))?;
            }
            let quiet = context.quiet && !args.verbose;
            let log_file = args.log_file.clone();
            let log: agent::Log = Arc::new(move |line: &str| {
                if quiet && line.starts_with("connection ") {
                    return;
                }
                let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
                let text = format!("{stamp} mailseal agent: {line}\n");
                if let Some(path) = &log_file {
                    if append(path, text.as_bytes()).is_ok() {
                        return;
                    }
                }
                eprint!("{text}");
            });
            Agent {
                home: context.home.clone(),
                // The agent keeps its own copy of the configuration.
                config: Arc::new(context.home.load_config()?),
                unlocker: context.unlocker.clone(),
                settings,
                log,
                verbose: args.verbose,
                listen_override: args.listen.clone(),
            }
            .run()?;
            Ok(0)
        }
    }
}

/// Appends `data` to the log file `path` (created 0600).
fn append(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?
        .write_all(data)
}

#[derive(Serialize)]
struct Info {
    running: bool,
    listening_on: Option<String>,
    configured_listen: String,
    server: String,
    port: u16,
    security: &'static str,
    /// The implicit-TLS listener ("SSL/TLS" in mail clients), if configured.
    implicit_tls: Option<String>,
    authentication: &'static str,
    username: Option<String>,
    password: Option<String>,
    certificate_file: String,
    certificate_sha256: String,
    certificate_spki_pin: Option<String>,
    relay: String,
    queued: usize,
    failed: usize,
}

fn info(context: &Context, settings: &Settings) -> Result<u8> {
    let home = &context.home;
    let cert = tls::ensure(
        &home.agent_dir(),
        &settings.hostname,
        Some(settings.listen.ip()),
    )?;
    let queue = spool::Spool::open(&home.spool_dir())?;
    let running = queue.is_locked();
    let listening_on = running
        .then(|| std::fs::read_to_string(agent::address_file(home)).ok())
        .flatten()
        .map(|a| a.trim().to_string());
    let address: std::net::SocketAddr = listening_on
        .as_deref()
        .and_then(|a| a.parse().ok())
        .unwrap_or(settings.listen);
    let (username, authentication) = match &settings.access {
        Access::Open => (None, "none (loopback only)"),
        Access::Password { username, .. } => {
            (Some(username.clone()), "normal password (PLAIN or LOGIN)")
        }
    };
    let info = Info {
        running,
        listening_on,
        configured_listen: settings.listen.to_string(),
        server: if address.ip().is_loopback() {
            settings.hostname.clone()
        } else {
            address.ip().to_string()
        },
        port: address.port(),
        security: if settings.require_tls {
            "STARTTLS (required)"
        } else {
            "STARTTLS"
        },
        implicit_tls: settings.listen_implicit.map(|a| a.to_string()),
        authentication,
        username,
        password: settings.password_source_description(),
        certificate_file: cert.cert_file.display().to_string(),
        certificate_sha256: cert.fingerprint(),
        certificate_spki_pin: cert.spki_pin(),
        relay: settings.relay.clone(),
        queued: queue.ids(spool::Status::Queued)?.len(),
        failed: queue.ids(spool::Status::Failed)?.len(),
    };
    if context.json {
        context.print_json(&info)?;
        return Ok(0);
    }
    println!(
        "agent:        {}",
        match &info.listening_on {
            Some(a) => format!("running, listening on {a}"),
            None => format!("not running (will listen on {})", info.configured_listen),
        }
    );
    println!("relay:        [relay.{}]", info.relay);
    println!(
        "queue:        {} queued, {} failed (`mailseal queue list`)",
        info.queued, info.failed
    );
    println!();
    println!("Mail client, outgoing server (SMTP):");
    println!("  server:          {}", info.server);
    println!("  port:            {}", info.port);
    println!("  security:        {}", info.security);
    if let Some(implicit) = &info.implicit_tls {
        println!("  or SSL/TLS at:   {implicit}");
    }
    println!("  authentication:  {}", info.authentication);
    if let Some(user) = &info.username {
        println!("  user name:       {user}");
    }
    if let Some(password) = &info.password {
        println!("  password:        {password}");
    }
    println!();
    println!("The agent has its own certificate. Give the client this file as its CA");
    println!("file (msmtp tls_trust_file, git sendemail.smtpSSLCertPath, mutt");
    println!("ssl_ca_certificates_file, Postfix smtp_tls_CAfile); a client that asks");
    println!("to accept it instead must show this SHA-256 fingerprint:");
    println!("  certificate: {}", info.certificate_file);
    println!("  {}", info.certificate_sha256);
    if let Some(pin) = &info.certificate_spki_pin {
        println!("  public key pin: {pin}");
    }
    Ok(0)
}
