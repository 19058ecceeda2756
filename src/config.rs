//! `config.toml`: identities, relays, policy and the other settings of
//! DESIGN.md §4, parsed into typed structs that reject unknown keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Own identities by address: which keys sign and decrypt for them.
    pub identity: BTreeMap<String, Identity>,
    /// Submission relays by name.
    pub relay: BTreeMap<String, Relay>,
    /// What protection messages get.
    pub policy: Policy,
    /// S/MIME settings.
    pub smime: Smime,
    /// Key discovery settings.
    pub discovery: Discovery,
    /// Network overrides (extra roots, static resolution, DNS servers).
    pub network: Network,
    /// The local submission agent.
    pub agent: Agent,
    /// Defaults for `mailseal sendmail`.
    pub sendmail: Sendmail,
    /// Domain checks (`mailseal status --domain`).
    pub domain: Domain,
}

impl Config {
    /// Parses `text`, naming `path`, the line and the key in any error.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        toml::from_str(text).map_err(|e| {
            let position = e
                .span()
                .map(|span| {
                    let line = text[..span.start].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            Error::Config {
                path: path.to_path_buf(),
                message: format!("{position}{}", e.message()),
            }
        })
    }

    /// The OpenPGP fingerprint configured for `address`, if any.
    pub fn openpgp_identity(&self, address: &str) -> Option<&str> {
        self.identity
            .iter()
            .find(|(addr, _)| addr.eq_ignore_ascii_case(address))
            .and_then(|(_, id)| id.openpgp.as_deref())
    }
}

/// Keys used for one of the user's own addresses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Fingerprint of the OpenPGP key that signs and decrypts.
    pub openpgp: Option<String>,
    /// SHA-256 of the S/MIME certificate.
    pub smime: Option<String>,
}

/// How a relay is reached. There is deliberately no plaintext variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain connection upgraded with STARTTLS, which must succeed.
    Starttls,
    /// TLS from the first byte (RFC 8314, port 465).
    Implicit,
}

/// A submission server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    pub host: String,
    pub port: Option<u16>,
    pub tls: Tls,
    pub username: Option<String>,
    /// `keyring`, `env:VAR` or `command:...`; never the password itself.
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub pin: Option<String>,
    /// AUTH mechanism: `plain`, `login`, `xoauth2` or `oauthbearer` (the
    /// password source then yields the OAuth 2 access token) [default:
    /// PLAIN if offered, else LOGIN].
    pub auth: Option<String>,
    /// Seconds each stage of a submission (connect, every reply, the TLS
    /// handshake) may take before the attempt fails with exit 75 [default: 60].
    pub timeout_secs: Option<u64>,
}

/// What a message to a recipient must get, from the laxest to the
/// strictest (the derived order: the strictest of several is their max).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protection {
    Plain,
    SignOnly,
    EncryptIfPossible,
    RequireEncryption,
}

impl Protection {
    /// The name the config file uses (`encrypt-if-possible`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Protection::RequireEncryption => "require-encryption",
            Protection::EncryptIfPossible => "encrypt-if-possible",
            Protection::SignOnly => "sign-only",
            Protection::Plain => "plain",
        }
    }
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the recipient domain's inbound mail must be protected by before a
/// copy goes out without end-to-end encryption (`require_inbound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequireInbound {
    /// An MTA-STS policy in enforce mode, or DANE.
    MtaSts,
    /// DNSSEC-validated TLSA records for every MX.
    Dane,
}

impl RequireInbound {
    /// `mta-sts` or `dane`, as in the config file.
    pub fn name(self) -> &'static str {
        match self {
            RequireInbound::MtaSts => "mta-sts",
            RequireInbound::Dane => "dane",
        }
    }

    /// Whether a domain whose inbound mail is `inbound` meets it.
    pub fn met_by(self, inbound: crate::posture::Inbound) -> bool {
        use crate::posture::Inbound;
        match self {
            RequireInbound::Dane => inbound == Inbound::ProtectedByDane,
            RequireInbound::MtaSts => {
                matches!(
                    inbound,
                    Inbound::ProtectedByDane | Inbound::ProtectedByMtaSts
                )
            }
        }
    }
}

/// One `[policy.recipients]` entry: a protection (`"require-encryption"`)
/// or a table (`{ protection = "...", require_inbound = "dane" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecipientPolicy {
    /// `None`: `[policy] default`.
    pub protection: Option<Protection>,
    pub require_inbound: Option<RequireInbound>,
}

impl<'de> Deserialize<'de> for RecipientPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            protection: Option<Protection>,
            require_inbound: Option<RequireInbound>,
        }
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RecipientPolicy;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a protection (\"require-encryption\", ...) or a table { protection = ..., require_inbound = \"mta-sts\" | \"dane\" }",
                )
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                let protection =
                    Protection::deserialize(serde::de::value::StrDeserializer::<E>::new(v))?;
                Ok(RecipientPolicy {
                    protection: Some(protection),
                    require_inbound: None,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let t = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RecipientPolicy {
                    protection: t.protection,
                    require_inbound: t.require_inbound,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// OpenPGP or S/MIME: which one sealed a copy, or which to use when a
/// recipient has keys for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Technology {
    Openpgp,
    Smime,
}

/// The `[policy]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub default: Protection,
    pub prefer: Technology,
    /// Sign when the sender has a key.
    pub sign: bool,
    /// Also encrypt to the sender's own key, so the sent copy stays readable.
    pub encrypt_to_self: bool,
    /// RFC 9788 header protection.
    pub protect_headers: bool,
    /// Per-address (`alice@x`) or per-domain (`@x`) overrides.
    pub recipients: BTreeMap<String, RecipientPolicy>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            default: Protection::EncryptIfPossible,
            prefer: Technology::Openpgp,
            sign: true,
            encrypt_to_self: true,
            protect_headers: true,
            recipients: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The protection `address` must get: an exact match, else its domain,
    /// else the default.
    pub fn protection_for(&self, address: &str) -> Protection {
        self.entry_for(address)
            .and_then(|e| e.protection)
            .unwrap_or(self.default)
    }

    /// The inbound protection `address`'s domain must have for a copy
    /// that is not encrypted end to end (same lookup as
    /// [`Policy::protection_for`]).
    pub fn require_inbound_for(&self, address: &str) -> Option<RequireInbound> {
        self.entry_for(address).and_then(|e| e.require_inbound)
    }

    /// The `[policy.recipients]` entry for `address`: an exact match, else
    /// its domain.
    fn entry_for(&self, address: &str) -> Option<RecipientPolicy> {
        let find = |key: &str| {
            self.recipients
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, p)| *p)
        };
        let domain = address.rsplit_once('@').map(|(_, d)| format!("@{d}"));
        find(address).or_else(|| domain.as_deref().and_then(find))
    }
}

/// The `[smime]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smime {
    /// Root certificates (PEM or DER files) that S/MIME paths must end in.
    pub trust_anchors: Vec<PathBuf>,
    /// Also trust the operating system's roots (off by default: they are
    /// meant for TLS, not for e-mail).
    pub system_roots: bool,
    /// `aes256-gcm` (default) or `aes256-cbc`.
    pub content_cipher: Option<String>,
    /// Per-recipient (`addr` or `@domain`) content cipher overrides.
    pub recipient_cipher: BTreeMap<String, String>,
    /// RSA key transport: `rsa-pkcs1v15` (default) or `rsa-oaep`.
    pub key_transport: Option<String>,
    /// RSA signatures: `rsa-pkcs1v15` (default) or `rsa-pss`.
    pub rsa_signature: Option<String>,
}

/// The `[discovery]` table: how missing certificates are found.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Discovery {
    /// Look up missing keys while sealing (`encrypt`, `send`, `status`).
    pub auto: bool,
    /// Methods in the order they are tried: `store`, `wkd`, `dane`,
    /// `keyserver`.
    pub methods: Vec<String>,
    /// Keyservers asked by the `keyserver` method: `vks+https://HOST` (or
    /// `https://HOST`) for a verifying VKS server, `hkps://HOST` for HKP.
    /// `hkps://keys.openpgp.org` is known to verify and is asked over VKS.
    pub keyservers: Vec<String>,
    /// Use keys from keyservers that do not verify addresses without
    /// `cert locate --accept`.
    pub accept_unverified: bool,
    /// Seconds one HTTP request or DNS query may take.
    pub timeout_secs: u64,
    /// Seconds a found key is trusted without asking again (1 day).
    pub cache_ttl_secs: u64,
    /// Seconds a miss or failure is remembered (1 hour).
    pub negative_ttl_secs: u64,
    /// Largest response accepted, in bytes (1 MiB).
    pub max_response_bytes: u64,
    /// DNSSEC trust anchors: a file of DNSKEY records (zone-file syntax);
    /// the IANA root keys when absent.
    pub dnssec_trust_anchor: Option<PathBuf>,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            auto: true,
            methods: ["store", "wkd", "dane", "keyserver"]
                .map(String::from)
                .to_vec(),
            keyservers: vec!["hkps://keys.openpgp.org".into()],
            accept_unverified: false,
            timeout_secs: 10,
            cache_ttl_secs: 86_400,
            negative_ttl_secs: 3_600,
            max_response_bytes: 1 << 20,
            dnssec_trust_anchor: None,
        }
    }
}

/// The `[domain]` table: settings of `mailseal status --domain`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Domain {
    /// DKIM selectors to look up (`SELECTOR._domainkey.DOMAIN`); empty
    /// means a short list of common ones.
    pub dkim_selectors: Vec<String>,
}

/// The `[network]` table: also how tests point mailseal at servers on
/// 127.0.0.1 without touching /etc.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Extra trust anchors (PEM) for HTTPS, beside the system roots.
    pub ca_file: Option<PathBuf>,
    /// `"host:port" = "address:port"`, like curl's --resolve.
    pub resolve: BTreeMap<String, String>,
    /// DNS servers to ask (`address` or `address:port`) instead of the
    /// system's resolv.conf.
    pub nameservers: Vec<String>,
    /// Seconds a TCP connection may take to open [default: the
    /// discovery timeout].
    pub connect_timeout_secs: Option<u64>,
}

/// The `[agent]` table: the local submission agent (`mailseal agent`).
/// Every key is optional; the defaults are in `agent::Settings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Agent {
    /// `IP:PORT` to listen on [default: 127.0.0.1:1587].
    pub listen: Option<String>,
    /// `required` (default) or `none` (only on a loopback address).
    pub auth: Option<String>,
    /// The user name mail clients log in with [default: mailseal].
    pub username: Option<String>,
    /// Where the agent password comes from: `keyring` (service mailseal,
    /// account `agent`; the default), `env:VAR` or `command:PROGRAM ARGS`.
    pub password: Option<String>,
    /// Accept AUTH and mail only after STARTTLS [default: false on a
    /// loopback address]. Must be true on any other address.
    pub require_tls: Option<bool>,
    /// The relay (`[relay.NAME]`) queued mail is submitted through
    /// [default: default].
    pub relay: Option<String>,
    /// The name in the greeting and the local certificate [default: localhost].
    pub hostname: Option<String>,
    /// Largest message accepted, in bytes [default: 26214400, 25 MiB].
    pub max_message_size: Option<usize>,
    /// Recipients per message [default: 100].
    pub max_recipients: Option<usize>,
    /// Simultaneous client connections [default: 100].
    pub max_connections: Option<usize>,
    /// Commands per connection [default: 10000].
    pub max_commands: Option<usize>,
    /// Seconds a client may stay silent [default: 300].
    pub idle_timeout_secs: Option<u64>,
    /// Seconds sealing one message may take (key lookup included) before
    /// the client is told to try again (451) [default: 60].
    pub seal_timeout_secs: Option<u64>,
    /// How long a queued message is retried before it is moved to
    /// `failed/`, e.g. "5d", "12h" [default: 5d].
    pub max_age: Option<String>,
    /// First retry delay in seconds, doubled per attempt [default: 60].
    pub retry_min_secs: Option<u64>,
    /// Longest retry delay in seconds [default: 3600].
    pub retry_max_secs: Option<u64>,
    /// Deliveries to the relay in parallel [default: 4].
    pub deliveries: Option<usize>,
    /// `IP:PORT` of a second listener that speaks TLS from the first byte
    /// (implicit TLS, RFC 8314), for clients set to "SSL/TLS", e.g.
    /// "127.0.0.1:1465" [default: none].
    pub listen_implicit: Option<String>,
    /// Seconds one client connection may last in all, however active
    /// (against slowloris and NOOP loops) [default: 1800].
    pub session_timeout_secs: Option<u64>,
}

/// The `[sendmail]` table: what `mailseal sendmail` (cron, mutt, PHP) does
/// when the caller says little.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sendmail {
    /// The sender when there is neither -f nor a From header, like msmtp's
    /// `from`: `%U` is the user's login name, `%H` the host name, `%%` a
    /// percent sign (e.g. `"%U@example.org"`).
    pub from: Option<String>,
    /// An aliases file for local names (recipients without `@`), like
    /// msmtp's `aliases`: lines `root: admin@example.org, ops@example.org`,
    /// `default: address` for any other local name, `#` comments.
    pub aliases: Option<PathBuf>,
    /// Seal the message and put it into the agent's queue (HOME/spool)
    /// instead of submitting it now [default: false; when an agent runs on
    /// this home, messages are queued regardless].
    pub queue: bool,
}

impl Sendmail {
    /// `from` with `%U`, `%H` and `%%` replaced.
    pub fn sender(&self, config_path: &Path) -> Result<Option<String>> {
        let Some(template) = &self.from else {
            return Ok(None);
        };
        let mut out = String::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('U') => out.push_str(&login_name().ok_or_else(|| Error::Config {
                    path: config_path.to_path_buf(),
                    message: "[sendmail] from uses %U, but the login name is unknown (no LOGNAME or USER, no /etc/passwd entry)".into(),
                })?),
                Some('H') => out.push_str(&host_name()),
                Some('%') => out.push('%'),
                other => {
                    return Err(Error::Config {
                        path: config_path.to_path_buf(),
                        message: format!(
                            "[sendmail] from: unknown %{}: use %U (user), %H (host) or %%",
                            other.map(String::from).unwrap_or_default()
                        ),
                    })
                }
            }
        }
        Ok(Some(out))
    }

    /// The aliases file, read (an empty set when none is configured).
    pub fn aliases(&self) -> Result<Aliases> {
        let Some(path) = &self.aliases else {
            return Ok(Aliases::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| Error::InputMissing {
            path: path.clone(),
            source,
        })?;
        Aliases::parse(&text, path)
    }
}

/// The login name: LOGNAME, USER, else the owner of this process in
/// /etc/passwd.
fn login_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    for var in ["LOGNAME", "USER"] {
        if let Some(name) = std::env::var(var).ok().filter(|n| !n.is_empty()) {
            return Some(name);
        }
    }
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&uid.as_str()))
        .map(|f| f[0].to_string())
}

/// This machine's host name (`localhost` when it cannot be read).
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Local names and the addresses they stand for (`[sendmail] aliases`).
#[derive(Debug, Default)]
pub struct Aliases {
    map: BTreeMap<String, Vec<String>>,
}

impl Aliases {
    /// Parses `name: address, address` lines; `path` names the file in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> Result<Aliases> {
        let mut map = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: &str| Error::Config {
                path: path.to_path_buf(),
                message: format!("line {}: {message}", n + 1),
            };
            let (name, targets) = line
                .split_once(':')
                .ok_or_else(|| bad("expected `name: address, address`"))?;
            let targets: Vec<String> = targets
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if name.trim().is_empty() || name.contains('@') || targets.is_empty() {
                return Err(bad(
                    "expected `name: address, address` (a local name, no @)",
                ));
            }
            map.insert(name.trim().to_ascii_lowercase(), targets);
        }
        Ok(Aliases { map })
    }

    /// The addresses `address` stands for: itself unless it is a local
    /// name with an alias (or a `default` entry).
    pub fn expand(&self, address: &str) -> Vec<String> {
        if address.contains('@') {
            return vec![address.to_string()];
        }
        let key = address.to_ascii_lowercase();
        self.map
            .get(&key)
            .or_else(|| self.map.get("default"))
            .cloned()
            .unwrap_or_else(|| vec![address.to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::parse("[policy]\nsign = true\nsgin = false\n", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("sgin"), "{err}");
    }

    #[test]
    fn plaintext_relay_is_not_a_value() {
        let err = Config::parse(
            "[relay.x]\nhost = \"h\"\ntls = \"none\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 78);
    }

    #[test]
    fn aliases_expand_local_names_only() {
        let aliases = Aliases::parse(
            "# cron mail\nroot: admin@example.org, ops@example.org\ndefault: me@example.org\n",
            Path::new("aliases"),
        )
        .unwrap();
        assert_eq!(
            aliases.expand("ROOT"),
            ["admin@example.org", "ops@example.org"]
        );
        assert_eq!(aliases.expand("www-data"), ["me@example.org"]);
        assert_eq!(aliases.expand("bob@example.net"), ["bob@example.net"]);
        let err = Aliases::parse("root admin@example.org\n", Path::new("a")).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn sendmail_from_substitutes_user_and_host() {
        let sendmail = Sendmail {
            from: Some("%U+cron@%H%%".into()),
            ..Sendmail::default()
        };
        let from = sendmail.sender(Path::new("c")).unwrap().unwrap();
        assert!(from.starts_with(&login_name().unwrap()), "{from}");
        assert!(from.ends_with(&format!("@{}%", host_name())), "{from}");
        let bad = Sendmail {
            from: Some("%X@example.org".into()),
            ..Sendmail::default()
        };
        assert_eq!(bad.sender(Path::new("c")).unwrap_err().exit_code(), 78);
    }

    #[test]
    fn domain_policy_applies_to_its_addresses() {
        let config = Config::parse(
            "[policy.recipients]\n\"@bank.example\" = \"require-encryption\"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(
            config.policy.protection_for("Me@bank.example"),
            Protection::RequireEncryption
        );
        assert_eq!(
            config.policy.protection_for("me@other.example"),
            Protection::EncryptIfPossible
        );
    }

    #[test]
    fn recipient_tables_add_require_inbound() {
        let config = Config::parse(
            "[policy.recipients]\n\"@bank.example\" = { protection = \"sign-only\", require_inbound = \"dane\" }\n\"a@bank.example\" = { require_inbound = \"mta-sts\" }\n",
            Path::new("c.toml"),
        )
        .unwrap();
        let policy = &config.policy;
        assert_eq!(
            policy.protection_for("b@bank.example"),
            Protection::SignOnly
        );
        assert_eq!(
            policy.require_inbound_for("B@Bank.example"),
            Some(RequireInbound::Dane)
        );
        // The exact address wins; without protection it has the default.
        assert_eq!(
            policy.protection_for("a@bank.example"),
            Protection::EncryptIfPossible
        );
        assert_eq!(
            policy.require_inbound_for("a@bank.example"),
            Some(RequireInbound::MtaSts)
        );
        assert_eq!(policy.require_inbound_for("x@other.example"), None);
        for bad in [
            "{ require_inbound = \"tls\" }",
            "{ requier_inbound = \"dane\" }",
            "\"encrypt\"",
        ] {
            let text = format!("[policy.recipients]\n\"@x\" = {bad}\n");
            let err = Config::parse(&text, Path::new("c.toml")).unwrap_err();
            assert_eq!(err.exit_code(), 78, "{bad}: {err}");
            assert!(err.to_string().contains("line 2"), "{bad}: {err}");
        }
    }

    #[test]
    fn inbound_requirements() {
        use crate::posture::Inbound::*;
        assert!(RequireInbound::Dane.met_by(ProtectedByDane));
        assert!(!RequireInbound::Dane.met_by(ProtectedByMtaSts));
        assert!(RequireInbound::MtaSts.met_by(ProtectedByMtaSts));
        assert!(RequireInbound::MtaSts.met_by(ProtectedByDane));
        assert!(!RequireInbound::MtaSts.met_by(CanBeDowngraded));
    }
}
