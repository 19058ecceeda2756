//! Where mailseal keeps its configuration and state, and how private files
//! are created and checked.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::{Error, Result};

/// The directories mailseal works in.
#[derive(Debug, Clone)]
pub struct Home {
    config_dir: PathBuf,
    data_dir: PathBuf,
}

impl Home {
    /// Uses `explicit` (from `--home` or `MAILSEAL_HOME`) for both config and
    /// data, else `$XDG_CONFIG_HOME/mailseal` and `$XDG_DATA_HOME/mailseal`.
    pub fn locate(explicit: Option<PathBuf>) -> Result<Home> {
        let home = match explicit {
            Some(dir) => Home {
                config_dir: dir.clone(),
                data_dir: dir,
            },
            None => Home {
                config_dir: xdg_dir("XDG_CONFIG_HOME", ".config")?.join("mailseal"),
                data_dir: xdg_dir("XDG_DATA_HOME", ".local/share")?.join("mailseal"),
            },
        };
        for dir in [&home.config_dir, &home.data_dir] {
            if dir.exists() && !dir.is_dir() {
                return Err(Error::Home {
                    path: dir.clone(),
                    reason: "it exists but is not a directory".into(),
                });
            }
            if let Err(e) = fs::read_dir(dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(Error::Home {
                        path: dir.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(home)
    }

    /// The configuration file, `config.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// Reads `config.toml`; a missing file means the defaults.
    pub fn load_config(&self) -> Result<Config> {
        let path = self.config_file();
        match fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Error::Home {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Others' OpenPGP certificates: `$PGP_CERT_D` if set, else `certs/`.
    pub fn cert_dir(&self) -> PathBuf {
        match std::env::var_os("PGP_CERT_D") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => self.data_dir.join("certs"),
        }
    }

    /// The address index kept beside the certificate directory.
    pub fn cert_index_file(&self) -> PathBuf {
        self.data_dir.join("cert-index")
    }

    /// Where discovered certificates came from (JSON, 0600).
    pub fn provenance_file(&self) -> PathBuf {
        self.data_dir.join("provenance.json")
    }

    /// Remembered discovery lookups (JSON, 0600).
    pub fn discovery_cache_file(&self) -> PathBuf {
        self.data_dir.join("discovery-cache.json")
    }

    /// The key each recipient's last sealed copy used (JSON, 0600).
    pub fn last_used_keys_file(&self) -> PathBuf {
        self.data_dir.join("recipient-keys.json")
    }

    /// The last submission through each relay: hop 1's TLS (JSON, 0600).
    pub fn relay_hops_file(&self) -> PathBuf {
        self.data_dir.join("relay-hops.json")
    }

    /// MTA-STS policies fetched by `status`, kept for their max_age (JSON,
    /// 0600).
    pub fn mta_sts_cache_file(&self) -> PathBuf {
        self.data_dir.join("mta-sts-cache.json")
    }

    /// Own S/MIME keys, one directory per certificate (key 0600, chain).
    pub fn smime_key_dir(&self) -> PathBuf {
        self.data_dir.join("keys").join("smime")
    }

    /// Others' X.509 certificates, one DER file each with a provenance note.
    pub fn smime_cert_dir(&self) -> PathBuf {
        self.data_dir.join("smime-certs")
    }

    /// Own OpenPGP secret keys, one TSK file per key.
    pub fn openpgp_key_dir(&self) -> PathBuf {
        self.data_dir.join("keys").join("openpgp")
    }

    /// The agent's local TLS certificate and key, and its address file.
    pub fn agent_dir(&self) -> PathBuf {
        self.data_dir.join("agent")
    }

    /// The agent's queue: `tmp/`, `queue/` and `failed/`.
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }
}

fn xdg_dir(var: &str, fallback: &str) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(fallback)),
        None => Err(Error::Home {
            path: PathBuf::from(fallback),
            reason: format!("neither {var} nor HOME is set"),
        }),
    }
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Home {
            path: dir.to_path_buf(),
            reason: format!("cannot create it: {e}"),
        })
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename) with
/// mode 0600, creating the directory 0700 if needed.
pub fn write_private_file(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let context = || format!("writing {}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(context(), e))?;
    tmp.write_all(data).map_err(|e| Error::io(context(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(context(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(context(), e.error))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(context(), e))
}

/// Reads a file holding secret material, refusing one that group or others
/// may read.
pub fn read_private_file(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| Error::InputMissing {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::UnsafePermissions {
            path: path.to_path_buf(),
            reason: format!(
                "it holds secret material but its mode is {:o}",
                mode & 0o777
            ),
        });
    }
    fs::read(path).map_err(|e| Error::InputMissing {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Refuses `dir` unless it is a real directory (not a symbolic link),
/// owned by the user running mailseal and not writable by group or others:
/// a link or a shared directory would let someone else read or replace
/// queued mail.
pub fn check_own_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |reason: String| Error::Home {
        path: dir.to_path_buf(),
        reason,
    };
    let meta = fs::symlink_metadata(dir).map_err(|e| refuse(e.to_string()))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(dir)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return Err(refuse(format!(
            "it is a symbolic link (to {target}); mailseal does not follow links here: remove the link and start again (the directory is recreated, mode 0700)"
        )));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory".into()));
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Err(refuse(format!(
            "it belongs to user id {}, not to you (user id {uid})",
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "others may write to it (mode {mode:o}); run `chmod 700 {}`",
            dir.display()
        )));
    }
    Ok(())
}
