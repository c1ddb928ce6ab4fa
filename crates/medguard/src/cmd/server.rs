//! `medguard server`: set up a fleet server's data directory, run it, and the operator's
//! commands on the server host (enrollment tokens, API tokens, advisories, revocation,
//! device models). Parsing and printing only: the work is `medguard-server`'s and
//! `medguard-fleet`'s.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use medguard_server::DataDir;

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Create (or complete, or migrate) a data directory: settings, the fleet CA that agents
    /// pin (DIR/tls/ca.pem), the server's TLS certificate and signing key, the database. Run
    /// again, it changes nothing and says so.
    Init {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The database: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (a password is moved to
        /// DIR/secrets, never kept in the settings); default: SQLite in the data directory.
        #[arg(long)]
        database: Option<String>,
        /// A host name or address the server is reached by (repeat); default: localhost,
        /// 127.0.0.1, ::1.
        #[arg(long = "hostname")]
        hostnames: Vec<String>,
        /// The first administrator's user name (made, with a one-time set-up link, when the
        /// server has no administrator yet).
        #[arg(long, default_value = "admin")]
        admin: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Try the fleet on this machine: a server on embedded SQLite with this machine enrolled
    /// as its first device, the dashboard's address and the first administrator's set-up link.
    /// Ctrl-C stops everything.
    Quickstart(super::quickstart::QuickstartArgs),
    /// Serve the API over HTTPS until interrupted (Ctrl-C or SIGTERM).
    Run {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The address to listen on (default: the settings', 127.0.0.1:8443).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Make a one-time enrollment token for a site (created if new).
    EnrollToken {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The site devices enrolled with it join.
        #[arg(long)]
        site: String,
        /// The device model they are recorded as.
        #[arg(long)]
        model: Option<String>,
        /// How long it may be used (30m, 24h, 7d).
        #[arg(long, default_value = "24h", value_parser = duration)]
        expires: time::Duration,
        /// How many devices may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// API bearer tokens for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// People: add, reset, list.
    #[command(subcommand)]
    User(UserCommand),
    /// Advisories held by the server.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Enrolled devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// A device model's MDS2 form (HN 1-2019) from live evidence and the vendor's
    /// declarations (DIR/mds2/<model>.toml), as HTML, JSON or CSV.
    Mds2(super::mds2::Mds2Args),
    /// Declare a device model's clinical criticality, network exposure and report interval
    /// (what the risk assessment and the staleness rule use).
    Model {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The model's name.
        name: String,
        /// life-sustaining, high, medium or low.
        #[arg(long)]
        criticality: Option<String>,
        /// Whether devices of the model are reachable from a network.
        #[arg(long)]
        network_exposed: Option<bool>,
        /// How long a device may stay silent before it is stale (e.g. 2h).
        #[arg(long, value_parser = duration)]
        report_within: Option<time::Duration>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a person, with their role's permissions (printed once; stored
    /// as a digest). People make their own, narrower ones with POST /api/v1/tokens.
    Create {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Whose token it is (its rights are theirs).
        #[arg(long)]
        user: String,
        /// What uses it (a script's name).
        #[arg(long)]
        name: String,
        /// How long it is valid (1d, 12h; at most 366d).
        #[arg(long, default_value = "1d", value_parser = std_duration)]
        expires: std::time::Duration,
    },
}

/// People on the server.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person with a role (and, for hospital roles, a site); prints their one-time
    /// set-up link (valid 24 h) where they choose a passphrase and enrol their authenticator.
    Add {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Their user name.
        name: String,
        /// administrator, vendor-security-engineer, validator, release-approver,
        /// hospital-security-officer, biomedical-engineer or auditor.
        #[arg(long, value_parser = role)]
        role: medguard_accounts::Role,
        /// The site a hospital role (or a hospital's auditor) is limited to.
        #[arg(long)]
        site: Option<String>,
    },
    /// Issue a person a new one-time set-up link (lost authenticator or passphrase). Nobody
    /// else learns or sets their secrets.
    Reset {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Their user name.
        name: String,
    },
    /// Everyone, with role, scope and whether they completed their set-up.
    List {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdvisoriesCommand {
    /// Add or update advisories (OSV JSON/YAML, CSAF 2.0; files, folders, zip archives) and
    /// match them against every device. Exit 1 when an input was refused.
    Ingest {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Files, folders or zip archives.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Revoke a device: refused at its next request on every server process.
    Revoke {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The device id.
        device: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
    },
    /// List devices with their status.
    List {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn std_duration(text: &str) -> Result<std::time::Duration, String> {
    medguard_host::parse_duration(text).map_err(|e| e.to_string())
}

fn role(text: &str) -> Result<medguard_accounts::Role, String> {
    text.parse().map_err(|_| {
        let all: Vec<&str> = medguard_accounts::Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        format!("one of {}", all.join(", "))
    })
}

fn print_setup(
    dir: &DataDir,
    who: &str,
    issued: &medguard_fleet::IssuedSetup,
) -> anyhow::Result<()> {
    eprintln!(
        "one-time set-up link for {who}, valid until {} (hand it to them alone; shown once):",
        super::rfc3339(issued.link.expires_at)
    );
    println!("{}", medguard_server::host::setup_url(dir, issued)?);
    Ok(())
}

fn duration(text: &str) -> Result<time::Duration, String> {
    let d = medguard_host::parse_duration(text).map_err(|e| e.to_string())?;
    time::Duration::try_from(d).map_err(|e| e.to_string())
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(cmd: ServerCommand) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(run_async(cmd))
}

async fn run_async(cmd: ServerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ServerCommand::Init {
            data,
            database,
            hostnames,
            admin,
            json,
        } => {
            let dir = DataDir::new(&data);
            let report = medguard_server::init(
                &dir,
                database.as_deref(),
                &hostnames,
                time::OffsetDateTime::now_utc(),
            )
            .await?;
            if json {
                super::print_json(&report)?;
            } else if report.unchanged() {
                println!(
                    "{}: already initialised, nothing changed (schema {}, {})",
                    data.display(),
                    report.schema_to,
                    report.database
                );
            } else {
                for f in &report.created {
                    println!("created {}", data.join(f).display());
                }
                if report.schema_from != report.schema_to {
                    println!(
                        "database {}: schema {} -> {}",
                        report.database, report.schema_from, report.schema_to
                    );
                }
                println!(
                    "agents pin {}; start the server with: medguard server run --data {}",
                    dir.ca_path().display(),
                    data.display()
                );
            }
            if let Some(issued) = medguard_server::host::first_administrator(&dir, &admin).await? {
                if json {
                    super::print_json(&serde_json::json!({
                        "first_administrator": admin,
                        "setup_link": medguard_server::host::setup_url(&dir, &issued)?,
                        "expires_at": super::rfc3339(issued.link.expires_at),
                    }))?;
                } else {
                    print_setup(&dir, &format!("the first administrator, {admin}"), &issued)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Quickstart(a) => Box::pin(super::quickstart::run_async(a)).await,
        ServerCommand::Mds2(a) => super::mds2::run_async(a).await,
        ServerCommand::Run { data, listen } => {
            let dir = DataDir::new(&data);
            let server = medguard_server::BoundServer::bind(&dir, listen.as_deref()).await?;
            let address = server.local_addr()?;
            eprintln!("medguard server: listening on https://{address} (Ctrl-C to stop)");
            server.serve(shutdown_signal()).await;
            eprintln!("medguard server: stopped");
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::EnrollToken {
            data,
            site,
            model,
            expires,
            uses,
            json,
        } => {
            let fleet = medguard_server::open_fleet(&DataDir::new(&data)).await?;
            let issued = fleet
                .create_enrollment_token(&site, model.as_deref(), expires, uses)
                .await?;
            if json {
                super::print_json(&serde_json::json!({
                    "token": issued.secret,
                    "terms": issued.token,
                    "site_created": issued.site_created,
                }))?;
            } else {
                if issued.site_created {
                    eprintln!("site {site:?} created");
                }
                eprintln!(
                    "enrollment token for site {site:?}, {} use(s), until {} (shown once):",
                    uses,
                    super::rfc3339(issued.token.expires_at)
                );
                println!("{}", issued.secret);
            }
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Token(TokenCommand::Create {
            data,
            user,
            name,
            expires,
        }) => {
            let issued =
                medguard_server::host::create_token(&DataDir::new(&data), &user, &name, expires)
                    .await?;
            eprintln!(
                "API token {} ({:?}) of {user} until {} (shown once; send it as `Authorization: Bearer ...`):",
                issued.id,
                name,
                super::rfc3339(issued.record.expires_at)
            );
            println!("{}", issued.token.reveal());
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::User(UserCommand::Add {
            data,
            name,
            role,
            site,
        }) => {
            let dir = DataDir::new(&data);
            let issued = medguard_server::host::add_person(
                &dir,
                &name,
                role,
                site.as_deref(),
                medguard_accounts::SetupPurpose::NewAccount,
            )
            .await?;
            print_setup(&dir, &name, &issued)?;
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::User(UserCommand::Reset { data, name }) => {
            let dir = DataDir::new(&data);
            let issued = medguard_server::host::reset_person(&dir, &name).await?;
            print_setup(&dir, &name, &issued)?;
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::User(UserCommand::List { data, json }) => {
            let people = medguard_server::host::people(&DataDir::new(&data)).await?;
            if json {
                super::print_json(&people)?;
            } else {
                for p in &people {
                    println!(
                        "{:<24} {:<28} {:<20} {}{}",
                        p.name.as_str(),
                        p.role.as_str(),
                        p.scope.to_string(),
                        if p.set_up { "set up" } else { "set-up pending" },
                        if p.held {
                            ", HELD after failed sign-ins"
                        } else {
                            ""
                        }
                    );
                }
                println!("{} people", people.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Advisories(AdvisoriesCommand::Ingest {
            data,
            sources,
            json,
        }) => {
            let fleet = medguard_server::open_fleet(&DataDir::new(&data)).await?;
            let parsed = medguard_advisory::read_sources(&sources, &|| {})?;
            let report = fleet.ingest_advisories(parsed).await?;
            if json {
                super::print_json(&report)?;
            } else {
                println!(
                    "{} added, {} updated, {} unchanged, {} stale, {} rejected; {} devices matched (advisory revision {})",
                    report.added,
                    report.updated,
                    report.unchanged,
                    report.stale,
                    report.rejected.len(),
                    report.devices_matched,
                    report.revision
                );
                for r in &report.rejected {
                    println!("rejected {r}");
                }
            }
            Ok(if report.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        ServerCommand::Device(DeviceCommand::Revoke {
            data,
            device,
            reason,
        }) => {
            let fleet = medguard_server::open_fleet(&DataDir::new(&data)).await?;
            fleet
                .revoke_device(&device, &reason, Some("medguard server device revoke"))
                .await?;
            println!("device {device} revoked");
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Device(DeviceCommand::List { data, json }) => {
            let fleet = medguard_server::open_fleet(&DataDir::new(&data)).await?;
            let page = fleet
                .devices(&medguard_fleet::DeviceFilter {
                    limit: 1_000,
                    ..Default::default()
                })
                .await?;
            if json {
                super::print_json(&page)?;
            } else {
                for d in &page.items {
                    println!(
                        "{}  {:<9}  {}  {}  {}  last seen {}",
                        d.id,
                        d.status.as_str(),
                        d.site,
                        d.model.as_deref().unwrap_or("-"),
                        d.name,
                        d.last_seen.as_deref().unwrap_or("never")
                    );
                }
                println!("{} devices", page.total);
            }
            Ok(ExitCode::SUCCESS)
        }
        ServerCommand::Model {
            data,
            name,
            criticality,
            network_exposed,
            report_within,
        } => {
            let criticality = criticality
                .map(|c| serde_json::from_value(serde_json::Value::String(c.clone())))
                .transpose()
                .context("criticality: one of life-sustaining, high, medium, low")?;
            let fleet = medguard_server::open_fleet(&DataDir::new(&data)).await?;
            fleet
                .declare_model(&name, criticality, network_exposed, report_within)
                .await?;
            println!("model {name:?} declared");
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
