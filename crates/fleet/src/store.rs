//! Where the fleet is kept: SQLite (a file, the default) or PostgreSQL (chosen by a
//! `postgres://` URL), through sqlx's runtime queries, with one set of versioned migrations
//! written in SQL both accept.
//!
//! This module owns connections and the schema's version. The SQL text of the domain lives
//! beside the domain code that uses it, in this crate only; nothing outside the crate sees
//! SQL. Every time is Unix seconds (UTC) in a BIGINT; every identifier TEXT; every document
//! JSON in TEXT.
//!
//! SQLite allows one writer at a time; a deferred transaction that later writes can fail at
//! once with "database is locked" however long the busy timeout. So on SQLite, writes go
//! through a pool of one connection (they queue in the process instead), reads through the
//! others, and the database runs in WAL mode with `synchronous = FULL`: a report the server
//! acknowledged survives a power loss. On PostgreSQL both pools are one.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor as _, Row as _};

use crate::FleetError;

/// The database kinds medguard runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file in the data directory.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The kind a database URL names.
    ///
    /// # Errors
    /// [`FleetError::DatabaseUrl`] for any other scheme.
    pub fn of(url: &str) -> Result<Self, FleetError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(FleetError::DatabaseUrl {
                reason: "a database URL starts with sqlite: or postgres://".into(),
            })
        }
    }
}

/// The versioned migrations, oldest first: (version, description, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "fleet", include_str!("../migrations/0001_fleet.sql")),
    (2, "people", include_str!("../migrations/0002_people.sql")),
    (3, "patches", include_str!("../migrations/0003_patches.sql")),
    (
        4,
        "dashboard",
        include_str!("../migrations/0004_dashboard.sql"),
    ),
];

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 4;

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The version found before.
    pub from: i64,
    /// The version now.
    pub to: i64,
}

/// Connections to the fleet's database.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) read: AnyPool,
    pub(crate) write: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite:///path/fleet.db` or `postgres://user@host/db`); a SQLite
    /// file is created if missing. The schema is not touched: see [`Store::migrate`] and
    /// [`Store::check_schema`].
    ///
    /// # Errors
    /// [`FleetError::Database`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, FleetError> {
        install_default_drivers();
        let backend = Backend::of(url)?;
        match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                // WAL is a property of the file, set once by the writer; readers only need
                // to wait rather than fail while a checkpoint runs.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(120))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA busy_timeout = 30000;").await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                Ok(Self {
                    read,
                    write,
                    backend,
                })
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(60))
                    .connect(url)
                    .await?;
                Ok(Self {
                    read: pool.clone(),
                    write: pool,
                    backend,
                })
            }
        }
    }

    /// The database kind.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version in the database (0: empty).
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn schema_version(&self) -> Result<i64, FleetError> {
        self.write
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
                 description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&self.write)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Brings the schema to [`SCHEMA_VERSION`], each migration in its own transaction. A
    /// database newer than this build, or one whose applied migrations differ from this
    /// build's, is refused before anything is changed.
    ///
    /// # Errors
    /// [`FleetError::SchemaNewer`], [`FleetError::SchemaChanged`], [`FleetError::Database`].
    pub async fn migrate(&self, now: i64) -> Result<Migrated, FleetError> {
        let from = self.schema_version().await?;
        if from > SCHEMA_VERSION {
            return Err(FleetError::SchemaNewer {
                found: from,
                supported: SCHEMA_VERSION,
            });
        }
        let applied =
            sqlx::query("SELECT version, checksum FROM schema_migrations ORDER BY version")
                .fetch_all(&self.write)
                .await?;
        for row in &applied {
            let version: i64 = row.try_get(0)?;
            let checksum: String = row.try_get(1)?;
            let known = MIGRATIONS.iter().find(|(v, _, _)| *v == version);
            if known.map(|(_, _, sql)| checksum_of(sql)) != Some(checksum) {
                return Err(FleetError::SchemaChanged { version });
            }
        }
        for (version, description, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > from) {
            let mut tx = self.write.begin().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, description, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(*version)
            .bind(*description)
            .bind(checksum_of(sql))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(Migrated {
            from,
            to: SCHEMA_VERSION,
        })
    }

    /// Refuses a schema this build cannot serve: older (run `server init` to migrate) or
    /// newer (a newer medguard wrote it).
    ///
    /// # Errors
    /// [`FleetError::SchemaOlder`], [`FleetError::SchemaNewer`], [`FleetError::Database`].
    pub async fn check_schema(&self) -> Result<(), FleetError> {
        let found = self.schema_version().await?;
        if found > SCHEMA_VERSION {
            return Err(FleetError::SchemaNewer {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(FleetError::SchemaOlder {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn ping(&self) -> Result<(), FleetError> {
        sqlx::query("SELECT 1").fetch_one(&self.read).await?;
        Ok(())
    }
}

fn checksum_of(sql: &str) -> String {
    blake3::hash(sql.as_bytes()).to_hex().to_string()
}

/// Converts a count or a size to the BIGINT SQL stores, saturating (no count reaches it).
pub(crate) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
