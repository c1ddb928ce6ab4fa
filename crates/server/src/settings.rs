//! The server's data directory: its settings, keys and certificates, and (by default) its
//! SQLite database.
//!
//! ```text
//! DIR/server.toml          settings: database URL (never a password), host names, listen
//! DIR/fleet.db             the SQLite database (when no other database was chosen)
//! DIR/tls/ca.pem           the fleet CA's certificate: agents pin it
//! DIR/tls/ca.key           its key (0600)
//! DIR/tls/server.pem       the server's TLS certificate, for the host names
//! DIR/tls/server.key       its key (0600)
//! DIR/keys/server.key      the server's Ed25519 signing key (0600), and server.pub
//! DIR/secrets/database-password   the PostgreSQL password, when the URL had one (0600)
//! DIR/mds2/<model>.toml    a vendor's MDS2 declarations for a model (see `crate::mds2`)
//! ```
//!
//! [`init`] creates what is missing and changes nothing that exists, so running it again is
//! harmless and says so; it migrates the database. Every other command needs only the
//! directory.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use medguard_fleet::store::{Migrated, Store};
use medguard_pki::CertificateAuthority;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ServerError;

/// How long the CA is valid.
const CA_VALIDITY: Duration = Duration::days(20 * 365);
/// How long the server's TLS certificate is valid (`init --renew-certificate` makes another).
const SERVER_CERTIFICATE_VALIDITY: Duration = Duration::days(825);

/// The settings file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The database URL, without a password.
    pub database: String,
    /// The host names (and addresses) the server is reached by: its certificate names them.
    pub hostnames: Vec<String>,
    /// The address `server run` listens on unless told otherwise.
    #[serde(default = "default_listen")]
    pub listen: String,
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}

/// A server data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// What [`init`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InitReport {
    /// Files created, relative to the data directory.
    pub created: Vec<String>,
    /// The database schema before and after.
    pub schema_from: i64,
    /// The schema now.
    pub schema_to: i64,
    /// The database URL (no password).
    pub database: String,
}

impl InitReport {
    /// True when nothing was created or migrated.
    #[must_use]
    pub fn unchanged(&self) -> bool {
        self.created.is_empty() && self.schema_from == self.schema_to
    }
}

impl DataDir {
    /// The directory at `root`.
    #[must_use]
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// Its path.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `server.toml`.
    #[must_use]
    pub fn settings_path(&self) -> PathBuf {
        self.root.join("server.toml")
    }

    /// The CA certificate agents pin.
    #[must_use]
    pub fn ca_path(&self) -> PathBuf {
        self.root.join("tls/ca.pem")
    }

    /// Reads the settings.
    ///
    /// # Errors
    /// [`ServerError::NotInitialised`] or [`ServerError::Settings`].
    pub fn settings(&self) -> Result<Settings, ServerError> {
        let path = self.settings_path();
        let text = fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ServerError::NotInitialised {
                    dir: self.root.clone(),
                }
            } else {
                ServerError::Io {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        toml::from_str(&text).map_err(|e| ServerError::Settings {
            path,
            reason: e.to_string(),
        })
    }

    /// The database URL with its password, if one is kept in `secrets/`.
    ///
    /// # Errors
    /// [`ServerError::Io`] when the password file exists but cannot be read.
    pub fn database_url(&self, settings: &Settings) -> Result<String, ServerError> {
        let path = self.root.join("secrets/database-password");
        let password = match fs::read_to_string(&path) {
            Ok(p) => Some(p.trim_end_matches('\n').to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ServerError::Io { path, source: e }),
        };
        Ok(match password {
            Some(p) => with_password(&settings.database, &p),
            None => settings.database.clone(),
        })
    }

    /// The CA, loaded.
    ///
    /// # Errors
    /// [`ServerError::Io`], [`ServerError::Pki`].
    pub fn certificate_authority(&self) -> Result<CertificateAuthority, ServerError> {
        let cert = read(&self.root.join("tls/ca.pem"))?;
        let key = read(&self.root.join("tls/ca.key"))?;
        CertificateAuthority::load(&cert, &key).map_err(|source| ServerError::Pki { source })
    }

    /// The server's TLS settings.
    ///
    /// # Errors
    /// [`ServerError::Io`], [`ServerError::Pki`].
    pub fn tls_config(&self) -> Result<std::sync::Arc<rustls::ServerConfig>, ServerError> {
        let ca = read(&self.root.join("tls/ca.pem"))?;
        let cert = read(&self.root.join("tls/server.pem"))?;
        let key = read(&self.root.join("tls/server.key"))?;
        medguard_pki::tls::server_config(&ca, &cert, &key)
            .map_err(|source| ServerError::Pki { source })
    }

    /// Opens the database and checks its schema is this build's.
    ///
    /// # Errors
    /// [`ServerError::Fleet`] (schema older or newer, unreachable).
    pub async fn open_store(&self) -> Result<Store, ServerError> {
        let settings = self.settings()?;
        let store = Store::connect(&self.database_url(&settings)?).await?;
        store.check_schema().await?;
        Ok(store)
    }
}

fn read(path: &Path) -> Result<String, ServerError> {
    fs::read_to_string(path).map_err(|source| ServerError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Splits `postgres://user:password@host/db` into the URL without the password and the
/// password.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    let slash = if rest.contains('/') { "/" } else { "" };
    (
        format!("{scheme}://{user}@{host}{slash}{tail}"),
        Some(password.to_owned()),
    )
}

fn with_password(url: &str, password: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if !user.contains(':') => {
                format!("{scheme}://{user}:{password}@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn write_new(
    root: &Path,
    relative: &str,
    content: &str,
    mode: u32,
    created: &mut Vec<String>,
) -> Result<(), ServerError> {
    let path = root.join(relative);
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|source| ServerError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    medguard_host::write_bytes_atomically(&path, mode, content.as_bytes()).map_err(|e| {
        ServerError::Io {
            path: e.path,
            source: e.source,
        }
    })?;
    // The mode asked may have been narrowed by the umask, never widened; make it exact.
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|source| {
        ServerError::Io {
            path: path.clone(),
            source,
        }
    })?;
    created.push(relative.to_owned());
    Ok(())
}

/// Initialises `dir`: settings, CA, server certificate, server key, database (created or
/// migrated). Whatever exists is kept; a database different from the recorded one is refused.
///
/// # Errors
/// [`ServerError`] naming what failed; nothing already there is changed.
pub async fn init(
    dir: &DataDir,
    database: Option<&str>,
    hostnames: &[String],
    now: OffsetDateTime,
) -> Result<InitReport, ServerError> {
    let root = dir.root();
    if !root.exists() {
        fs::create_dir_all(root).map_err(|source| ServerError::Io {
            path: root.to_owned(),
            source,
        })?;
        // Keys, the database and the secrets are the server's alone.
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(|source| {
            ServerError::Io {
                path: root.to_owned(),
                source,
            }
        })?;
    }
    // The settings name the database by an absolute path, so any later command finds it
    // from any working directory.
    let absolute = std::path::absolute(root).map_err(|source| ServerError::Io {
        path: root.to_owned(),
        source,
    })?;
    let mut created = Vec::new();
    let settings = match dir.settings() {
        Ok(existing) => {
            if let Some(url) = database
                && split_password(url).0 != existing.database
            {
                return Err(ServerError::Settings {
                    path: dir.settings_path(),
                    reason: format!(
                        "this data directory uses {}; refusing to switch it to another database",
                        existing.database
                    ),
                });
            }
            existing
        }
        Err(ServerError::NotInitialised { .. }) => {
            let url = database.map_or_else(
                || format!("sqlite://{}", absolute.join("fleet.db").display()),
                str::to_owned,
            );
            medguard_fleet::store::Backend::of(&url)?;
            let (clean, password) = split_password(&url);
            if let Some(p) = password {
                write_new(root, "secrets/database-password", &p, 0o600, &mut created)?;
            }
            let mut names: Vec<String> = if hostnames.is_empty() {
                vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]
            } else {
                hostnames.to_vec()
            };
            names.dedup();
            let settings = Settings {
                database: clean,
                hostnames: names,
                listen: default_listen(),
            };
            let text = toml::to_string_pretty(&settings).map_err(|e| ServerError::Settings {
                path: dir.settings_path(),
                reason: e.to_string(),
            })?;
            write_new(root, "server.toml", &text, 0o644, &mut created)?;
            settings
        }
        Err(e) => return Err(e),
    };
    if !root.join("tls/ca.pem").exists() {
        let ca = CertificateAuthority::generate("medguard fleet CA", now, CA_VALIDITY)
            .map_err(|source| ServerError::Pki { source })?;
        write_new(root, "tls/ca.key", ca.key_pem(), 0o600, &mut created)?;
        write_new(
            root,
            "tls/ca.pem",
            ca.certificate_pem(),
            0o644,
            &mut created,
        )?;
    }
    if !root.join("tls/server.pem").exists() {
        let ca = dir.certificate_authority()?;
        let cert = ca
            .issue_server_certificate(&settings.hostnames, now, SERVER_CERTIFICATE_VALIDITY)
            .map_err(|source| ServerError::Pki { source })?;
        write_new(root, "tls/server.key", &cert.key_pem, 0o600, &mut created)?;
        write_new(
            root,
            "tls/server.pem",
            &cert.certificate_pem,
            0o644,
            &mut created,
        )?;
    }
    if !root.join("keys/server.key").exists() {
        fs::create_dir_all(root.join("keys")).map_err(|source| ServerError::Io {
            path: root.join("keys"),
            source,
        })?;
        medguard_digest::generate_key_pair(&root.join("keys/server")).map_err(|e| {
            ServerError::Settings {
                path: root.join("keys/server.key"),
                reason: e.to_string(),
            }
        })?;
        created.push("keys/server.key".into());
        created.push("keys/server.pub".into());
    }
    // The TUF library runs its own runtime: a thread of its own, outside this one's.
    let repository = std::thread::scope(|s| {
        s.spawn(|| crate::repository::ensure_repository(root))
            .join()
            .unwrap_or_else(|_| {
                Err(ServerError::Settings {
                    path: root.join("repository"),
                    reason: "creating the TUF repository panicked".into(),
                })
            })
    })?;
    created.extend(repository);
    let store = Store::connect(&dir.database_url(&settings)?).await?;
    let Migrated { from, to } = store.migrate(now.unix_timestamp()).await?;
    if from == 0 && settings.database.starts_with("sqlite:") {
        created.push("fleet.db".into());
    }
    Ok(InitReport {
        created,
        schema_from: from,
        schema_to: to,
        database: settings.database,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_stay_in_the_url() {
        assert_eq!(
            split_password("postgres://fleet:s3cret@db.example/medguard"),
            (
                "postgres://fleet@db.example/medguard".into(),
                Some("s3cret".into())
            )
        );
        assert_eq!(
            split_password("postgres://fleet@db.example/medguard"),
            ("postgres://fleet@db.example/medguard".into(), None)
        );
        assert_eq!(
            with_password("postgres://fleet@db.example/medguard", "s3cret"),
            "postgres://fleet:s3cret@db.example/medguard"
        );
    }
}
