//! The fleet server over HTTPS.
//!
//! It maps [`medguard_fleet`] to routes ([`app`]), serves them over TLS with the fleet CA's
//! certificate and optional client certificates ([`serve`]), keeps its settings, keys and
//! default database in a data directory ([`settings`]), and describes its API in an OpenAPI
//! 3.1 document ([`openapi`]). It holds no rules of its own: what a report means, whether a
//! token is valid or a device revoked is the fleet's to say; here errors only become RFC 9457
//! problem documents with the right status ([`problem`]).
//!
//! It keeps no state outside the database, so several servers on one PostgreSQL serve one
//! fleet behind any load balancer.
#![forbid(unsafe_code)]

pub mod app;
mod auth;
pub mod host;
pub mod mds2;
pub mod openapi;
mod pages;
mod patch_pages;
mod patches;
mod people;
mod people_pages;
pub mod problem;
pub mod repository;
mod rollouts;
pub mod serve;
pub mod settings;
pub mod trail;
pub mod trail_search;
pub use people::grant_of;

use std::path::PathBuf;
use std::sync::Arc;

use medguard_fleet::{Fleet, FleetError, FleetSettings};
use medguard_host::SystemClock;

pub use settings::{DataDir, InitReport, Settings, init};

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The data directory has no settings: `server init` has not run.
    #[error("{dir}: not a server data directory (run `medguard server init --data {dir}` first)")]
    NotInitialised {
        /// The directory.
        dir: PathBuf,
    },
    /// The settings file is wrong, or a change was refused.
    #[error("{path}: {reason}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The fleet failed (the database, the schema).
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// A certificate or key failed.
    #[error("certificates: {source}")]
    Pki {
        /// The cause.
        #[source]
        source: medguard_pki::PkiError,
    },
    /// The server's audit log could not be opened or written.
    #[error("the server's audit log: {reason}")]
    Audit {
        /// What failed.
        reason: String,
    },
    /// The listening address could not be bound.
    #[error("listening on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Opens the fleet of a data directory (its database, its CA).
///
/// # Errors
/// [`ServerError`].
pub async fn open_fleet(dir: &DataDir) -> Result<Fleet, ServerError> {
    let store = dir.open_store().await?;
    let ca = dir.certificate_authority()?;
    Ok(Fleet::new(
        store,
        ca,
        Arc::new(SystemClock),
        FleetSettings::default(),
    ))
}

/// A server bound and ready to serve.
#[derive(Debug)]
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    fleet: Fleet,
    trail: trail::ServerTrail,
    data: DataDir,
    server_key: Arc<medguard_digest::SigningKey>,
}

impl BoundServer {
    /// Binds `listen` (default: the settings') for the data directory.
    ///
    /// # Errors
    /// [`ServerError`].
    pub async fn bind(dir: &DataDir, listen: Option<&str>) -> Result<Self, ServerError> {
        let settings = dir.settings()?;
        let address = listen.map_or(settings.listen.clone(), str::to_owned);
        let fleet = open_fleet(dir).await?;
        let tls = dir.tls_config()?;
        let trail = trail::ServerTrail::open(dir.root())?;
        let key_path = dir.root().join("keys/server.key");
        let server_key = Arc::new(medguard_digest::SigningKey::load(&key_path).map_err(|e| {
            ServerError::Settings {
                path: key_path.clone(),
                reason: e.to_string(),
            }
        })?);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|source| ServerError::Listen { address, source })?;
        Ok(Self {
            listener,
            tls,
            fleet,
            trail,
            data: dir.clone(),
            server_key,
        })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// The socket's error.
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        let app = app::router(app::AppState {
            fleet: self.fleet,
            trail: self.trail,
            data: self.data,
            server_key: self.server_key,
        });
        serve::serve(self.listener, self.tls, app, shutdown).await;
    }
}
