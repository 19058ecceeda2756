//! `mailseal agent`: a local SMTP submission server that seals what mail
//! clients hand it, queues it durably and submits it through the relay.
//!
//! - [`server`]: the SMTP protocol loop (tokio + tokio-rustls, commands
//!   parsed by smtp-proto): STARTTLS with a local certificate ([`tls`]),
//!   AUTH PLAIN/LOGIN, limits, and the decision while the client waits:
//!   the message is sealed through [`crate::seal::Sealer`] ([`intake`]),
//!   and a recipient that policy says must get encryption but cannot is
//!   refused with 550 before anything is queued.
//! - [`spool`]: the durable queue. A message is answered 250 only after its
//!   file is written, fsynced, renamed into `queue/` and the directory
//!   fsynced (group commit). State changes are atomic renames.
//! - [`worker`]: delivery through [`crate::submit`] (its TLS guarantees
//!   unchanged) with exponential backoff, a maximum age, and `failed/` for
//!   permanent failures. Delivery is at least once: a crash between the
//!   relay's 250 and the removal from the queue sends that copy again.
//! - [`dsn`]: the delivery report (RFC 3464) a sender gets when a message
//!   fails for good.
//!
//! The library never prints: the agent reports through a [`Log`] callback,
//! one line per connection and per delivery attempt, never a secret or a
//! message body.

pub mod dsn;
pub mod intake;
pub mod server;
pub mod spool;
pub mod tls;
pub mod worker;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::home::Home;
use crate::keys::Unlocker;
use crate::secrets::{Secret, Source};
use crate::{Error, Result};

/// Receives the agent's log lines (the binary prints them on stderr).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// The keyring account of the agent password (service `mailseal`).
pub const KEYRING_ACCOUNT: &str = "agent";

/// Default `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:1587";

/// Limits on what one client may do.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_commands: usize,
    /// Longest command line, CRLF included.
    pub max_line: usize,
    /// Wrong commands before the connection is closed.
    pub max_errors: usize,
    /// Failed logins before the connection is closed.
    pub max_auth_failures: usize,
    pub idle_timeout: Duration,
    /// How long one connection may last in all.
    pub session_timeout: Duration,
    pub seal_timeout: Duration,
}

/// How queued mail is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub min: Duration,
    pub max: Duration,
    pub max_age: Duration,
}

impl Retry {
    /// The delay before the attempt after `attempts` failed ones.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }
}

/// Whether and how clients log in.
#[derive(Debug, Clone)]
pub enum Access {
    /// No login (only on a loopback address).
    Open,
    /// Login with this user name and the password from `source`.
    Password {
        username: String,
        /// As written in the configuration (`keyring`, `env:VAR`, ...).
        source: String,
    },
}

/// The agent's settings: `[agent]` with defaults filled in and its access
/// rules checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// The implicit-TLS listener, if any.
    pub listen_implicit: Option<SocketAddr>,
    pub access: Access,
    pub require_tls: bool,
    pub hostname: String,
    pub relay: String,
    pub limits: Limits,
    pub retry: Retry,
    pub deliveries: usize,
}

impl Settings {
    /// Reads `[agent]` from `config`; `listen` (from `--listen`) wins over
    /// the file. Refuses settings that would expose the agent: `auth =
    /// "none"` off loopback, or AUTH possible before TLS off loopback.
    pub fn from_config(
        config: &Config,
        config_path: &Path,
        listen: Option<&str>,
    ) -> Result<Settings> {
        let agent = &config.agent;
        let bad = |message: String| Error::Config {
            path: config_path.to_path_buf(),
            message,
        };
        let listen_text = listen.or(agent.listen.as_deref()).unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            bad(format!(
                "[agent] listen = {listen_text:?} is not IP:PORT (e.g. \"127.0.0.1:1587\")"
            ))
        })?;
        let listen_implicit = match agent.listen_implicit.as_deref() {
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                bad(format!(
                    "[agent] listen_implicit = {text:?} is not IP:PORT (e.g. \"127.0.0.1:1465\")"
                ))
            })?),
            None => None,
        };
        let loopback =
            listen.ip().is_loopback() && listen_implicit.is_none_or(|a| a.ip().is_loopback());
        let access = match agent.auth.as_deref().unwrap_or("required") {
            "required" => Access::Password {
                username: agent.username.clone().unwrap_or_else(|| "mailseal".into()),
                source: agent.password.clone().unwrap_or_else(|| "keyring".into()),
            },
            "none" if loopback => Access::Open,
            "none" => {
                return Err(bad(format!(
                    "[agent] auth = \"none\" is only allowed on a loopback address, not {listen}: anyone who can reach it could send mail as you"
                )))
            }
            other => {
                return Err(bad(format!(
                    "[agent] auth = {other:?}: use \"required\" or \"none\""
                )))
            }
        };
        if let Access::Password { source, .. } = &access {
            // Checked now, fetched when the agent starts.
            Source::parse(KEYRING_ACCOUNT, source)
                .map_err(|e| bad(format!("[agent] password: {e}")))?;
        }
        let require_tls = agent.require_tls.unwrap_or(false);
        if !listen.ip().is_loopback() && !require_tls {
            return Err(bad(format!(
                "listening on {listen} (not a loopback address) would let clients log in before STARTTLS: set [agent] require_tls = true"
            )));
        }
        let hostname = agent.hostname.clone().unwrap_or_else(|| "localhost".into());
        if hostname.is_empty()
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(bad(format!(
                "[agent] hostname = {hostname:?} is not a host name"
            )));
        }
        let max_age = match &agent.max_age {
            Some(text) => humantime::parse_duration(text)
                .map_err(|e| bad(format!("[agent] max_age = {text:?}: {e}")))?,
            None => Duration::from_secs(5 * 24 * 3600),
        };
        let positive = |name: &str, value: Option<usize>, default: usize| match value {
            Some(0) => Err(bad(format!("[agent] {name} must be at least 1"))),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let retry_min = Duration::from_secs(agent.retry_min_secs.unwrap_or(60).max(1));
        Ok(Settings {
            listen,
            listen_implicit,
            access,
            require_tls,
            hostname,
            relay: agent.relay.clone().unwrap_or_else(|| "default".into()),
            limits: Limits {
                max_message_size: positive("max_message_size", agent.max_message_size, 25 << 20)?,
                max_recipients: positive("max_recipients", agent.max_recipients, 100)?,
                max_connections: positive("max_connections", agent.max_connections, 100)?,
                max_commands: positive("max_commands", agent.max_commands, 10_000)?,
                max_line: 4096,
                max_errors: 10,
                max_auth_failures: 3,
                idle_timeout: Duration::from_secs(agent.idle_timeout_secs.unwrap_or(300).max(1)),
                session_timeout: Duration::from_secs(
                    agent.session_timeout_secs.unwrap_or(1800).max(1),
                ),
                seal_timeout: Duration::from_secs(agent.seal_timeout_secs.unwrap_or(60).max(1)),
            },
            retry: Retry {
                min: retry_min,
                max: Duration::from_secs(agent.retry_max_secs.unwrap_or(3600)).max(retry_min),
                max_age,
            },
            deliveries: positive("deliveries", agent.deliveries, 4)?,
        })
    }

    /// Where the password of the agent comes from, for people (never the
    /// password itself).
    pub fn password_source_description(&self) -> Option<String> {
        let Access::Password { source, .. } = &self.access else {
            return None;
        };
        Some(match Source::parse(KEYRING_ACCOUNT, source) {
            Ok(Source::Keyring) => format!(
                "the one stored in the OS keyring (service mailseal, account {KEYRING_ACCOUNT}); set it with `mailseal secret set {KEYRING_ACCOUNT}`"
            ),
            Ok(Source::Env(var)) => {
                format!("the value of the environment variable {var} in the agent's environment")
            }
            Ok(Source::Command(words)) => format!(
                "the first line printed by `{}`",
                words.first().map(String::as_str).unwrap_or("")
            ),
            Err(_) => "not configured".into(),
        })
    }
}

/// The user name and password clients must present.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// Fetches the agent password per `settings` (none when auth is off).
pub fn credentials(settings: &Settings, config_path: &Path) -> Result<Option<Credentials>> {
    let Access::Password { username, source } = &settings.access else {
        return Ok(None);
    };
    let password = Source::parse(KEYRING_ACCOUNT, source)
        .and_then(|s| s.fetch(KEYRING_ACCOUNT))
        .map_err(|e| Error::Config {
            path: config_path.to_path_buf(),
            message: format!(
                "[agent] password: {e}; store one with `mailseal secret set {KEYRING_ACCOUNT}` or set password = \"env:VAR\""
            ),
        })?;
    Ok(Some(Credentials {
        username: username.clone(),
        password,
    }))
}

/// Everything `mailseal agent` needs to run.
pub struct Agent {
    pub home: Home,
    pub config: Arc<Config>,
    pub unlocker: Unlocker,
    pub settings: Settings,
    pub log: Log,
    /// Log the SMTP dialogue of every connection (AUTH data and message
    /// data never).
    pub verbose: bool,
    /// `--listen`, which a reload keeps over the file's `listen`.
    pub listen_override: Option<String>,
}

impl Agent {
    /// Runs the agent until SIGTERM or SIGINT: listens, seals, queues and
    /// delivers. Returns once the queue is consistent and connections are
    /// closed.
    pub fn run(self) -> Result<()> {
        server::run(self)
    }
}

/// `mailseal queue flush` with no agent running: one delivery attempt of
/// every queued message now, holding the queue's lock meanwhile. `None`
/// when an agent is running (it was asked to retry everything instead).
/// Delivery reports for messages that fail for good are queued, and sent
/// at the next flush or agent start.
pub fn flush_queue(
    home: &Home,
    config: &Config,
    unlocker: &Unlocker,
    settings: &Settings,
    log: Log,
) -> Result<Option<Vec<(String, worker::Outcome)>>> {
    let spool = Arc::new(spool::Spool::open(&home.spool_dir())?);
    let Some(_lock) = spool.lock()? else {
        spool.request(spool::Request::Flush)?;
        return Ok(None);
    };
    spool.recover()?;
    let relay = Arc::new(crate::submit::Settings::from_config(
        config,
        &home.config_file(),
        &settings.relay,
    )?);
    let worker = worker::Worker {
        spool: spool.clone(),
        route: std::sync::RwLock::new(worker::Route {
            relay,
            retry: settings.retry,
            config: Arc::new(config.clone()),
            config_path: home.config_file(),
        }),
        concurrency: settings.deliveries,
        log,
        bounce: Some(bounce(
            spool.clone(),
            home.clone(),
            unlocker.clone(),
            settings.hostname.clone(),
            {
                let config = Arc::new(config.clone());
                move || config.clone()
            },
            |_| {},
        )),
        hops: Some(Arc::new(crate::submit::hop::Recorder::new(
            home.relay_hops_file(),
        ))),
    };
    let ids = spool.ids(spool::Status::Queued)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the network runtime", e))?;
    let results = runtime.block_on(async {
        let worker = Arc::new(worker);
        let limit = Arc::new(tokio::sync::Semaphore::new(settings.deliveries));
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            let (worker, limit) = (worker.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire().await;
                let outcome = worker.deliver(&id, true).await;
                (id, outcome)
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(result) = done {
                results.push(result);
            }
        }
        results.sort_by(|a, b| a.0.cmp(&b.0));
        results
    });
    Ok(Some(results))
}

/// A [`worker::Bounce`] that seals reports under the configuration
/// `config()` gives at that moment and tells `queued` about each one.
pub(crate) fn bounce(
    spool: Arc<spool::Spool>,
    home: Home,
    unlocker: Unlocker,
    hostname: String,
    config: impl Fn() -> Arc<Config> + Send + Sync + 'static,
    queued: impl Fn(String) + Send + Sync + 'static,
) -> worker::Bounce {
    Arc::new(move |entry, heads, state| {
        let config = config();
        let id = dsn::bounce(
            &spool, &config, &home, &unlocker, &hostname, entry, heads, state,
        )?;
        if let Some(id) = &id {
            queued(id.clone());
        }
        Ok(id)
    })
}

/// The file in which a running agent records the address it listens on.
pub fn address_file(home: &Home) -> std::path::PathBuf {
    home.agent_dir().join("address")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str, listen: Option<&str>) -> Result<Settings> {
        let config = Config::parse(text, Path::new("c.toml")).unwrap();
        Settings::from_config(&config, Path::new("c.toml"), listen)
    }

    #[test]
    fn open_access_only_on_loopback() {
        assert!(settings("[agent]\nauth = \"none\"\n", None).is_ok());
        let err = settings(
            "[agent]\nauth = \"none\"\nrequire_tls = true\n",
            Some("192.0.2.1:1587"),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 78);
    }

    #[test]
    fn auth_before_tls_off_loopback_is_refused() {
        let err = settings("", Some("0.0.0.0:1587")).unwrap_err().to_string();
        assert!(err.contains("require_tls"), "{err}");
        assert!(settings("[agent]\nrequire_tls = true\n", Some("0.0.0.0:1587")).is_ok());
    }

    #[test]
    fn sealing_code_may_start_a_runtime_of_its_own() {
        // The agent seals on tokio's blocking pool; code behind the Sealer
        // (key discovery) may block on a runtime of its own there.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = runtime.block_on(async {
            tokio::task::spawn_blocking(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async { 7 })
            })
            .await
            .unwrap()
        });
        assert_eq!(got, 7);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let retry = Retry {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            max_age: Duration::from_secs(1),
        };
        assert_eq!(retry.delay(1).as_secs(), 60);
        assert_eq!(retry.delay(2).as_secs(), 120);
        assert_eq!(retry.delay(4).as_secs(), 480);
        assert_eq!(retry.delay(40).as_secs(), 3600);
    }
}
