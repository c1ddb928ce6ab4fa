//! `medguard server quickstart`: a fleet server on embedded SQLite with this machine enrolled as
//! its first device, for a newcomer's first minutes. It only strings together what the other
//! commands do, each a library call: `server init` (and the first administrator's set-up
//! link), `key generate`, `profile create` (signed) of a folder of this machine, `server run`,
//! `agent enroll`, `server advisories ingest`, and `agent report` on an interval, until Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use medguard_agent::{AgentConfig, EnrollOptions, ReportOptions, ScanPolicy, StateDir, Timeouts};
use medguard_host::SystemClock;
use medguard_proto::EnrollmentToken;
use medguard_server::DataDir;

/// What `server quickstart` takes.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// The server's data directory (made if missing; kept between runs).
    #[arg(long)]
    data: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// The folder of this machine whose signed profile the local agent verifies.
    #[arg(long, default_value = "/usr/bin")]
    root: PathBuf,
    /// Advisories to load (OSV or CSAF files, folders, zip archives), e.g.
    /// ../shared/data/osv-debian-ubuntu-samples.
    #[arg(long = "advisories")]
    advisories: Vec<PathBuf>,
    /// How often this machine reports.
    #[arg(long, default_value = "5m", value_parser = super::duration_arg)]
    interval: Duration,
}

const MODEL: &str = "This machine";
const SITE: &str = "Quickstart";

/// The local device's files: a vendor key, the signed profile of `root`, the agent's
/// configuration and state.
fn prepare_device(dir: &Path, root: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key_path = dir.join("vendor.key");
    if !key_path.exists() {
        medguard_digest::generate_key_pair(&dir.join("vendor")).context("making the vendor key")?;
    }
    let profile = dir.join("device.profile");
    if !profile.exists() {
        eprintln!("recording the signed profile of {} ...", root.display());
        let key = medguard_digest::SigningKey::load(&key_path)?;
        let (p, _problems) = medguard_profile::create(
            root,
            medguard_profile::CreateOptions {
                rules: medguard_profile::Rules::default(),
                sha256: false,
                walk: medguard_profile::WalkOptions::default(),
                created_unix: time::OffsetDateTime::now_utc().unix_timestamp(),
            },
            &medguard_profile::Progress::default(),
        )
        .with_context(|| format!("profiling {}", root.display()))?;
        medguard_profile::write_profile(&profile, &p, Some(&key))?;
    }
    let config = dir.join("agent.toml");
    let text = format!(
        "[device]\nmodel = {MODEL:?}\n\
         [profile]\nroot = {:?}\nprofile = \"device.profile\"\ntrust = [\"vendor.pub\"]\ninterval = \"1m\"\n\
         [inventory]\nroot = \"/\"\n",
        root.display().to_string()
    );
    medguard_host::write_bytes_atomically(&config, 0o644, text.as_bytes())?;
    Ok(config)
}

pub async fn run_async(a: QuickstartArgs) -> anyhow::Result<ExitCode> {
    let dir = DataDir::new(&a.data);
    medguard_server::init(&dir, None, &[], time::OffsetDateTime::now_utc()).await?;
    let server = medguard_server::BoundServer::bind(&dir, Some(&a.listen)).await?;
    let address = server.local_addr()?;
    let base = format!("https://localhost:{}", address.port());
    let link = match medguard_server::host::first_administrator(&dir, "admin").await? {
        Some(issued) => Some(issued),
        None => {
            let people = medguard_server::host::people(&dir).await?;
            if people
                .iter()
                .any(|p| p.name.as_str() == "admin" && !p.set_up)
            {
                Some(medguard_server::host::reset_person(&dir, "admin").await?)
            } else {
                None
            }
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut serving = {
        let mut stopped = stopped.clone();
        tokio::spawn(server.serve(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    };

    let device_dir = a.data.join("this-machine");
    let config_path = prepare_device(&device_dir, &a.root)?;
    let state = StateDir::new(device_dir.join("state"));
    let fleet = medguard_server::open_fleet(&dir).await?;
    if !state.enrollment_path().exists() {
        let token = fleet
            .create_enrollment_token(SITE, Some(MODEL), time::Duration::minutes(10), 1)
            .await?;
        let enrolled = medguard_agent::enroll(
            &state,
            EnrollOptions {
                server: url::Url::parse(&base)?,
                token: EnrollmentToken::new(token.secret),
                ca_pem: std::fs::read_to_string(dir.ca_path())?,
                facts: medguard_agent::device_facts(Some(MODEL.into()), None),
                audit_log: state.audit_dir(),
                timeouts: Timeouts::default(),
            },
            Arc::new(SystemClock),
        )
        .await
        .context("enrolling this machine")?;
        eprintln!(
            "this machine is device {} at site {SITE}",
            enrolled.enrollment.device_id
        );
    }
    if !a.advisories.is_empty() {
        let parsed = medguard_advisory::read_sources(&a.advisories, &|| {})?;
        let report = fleet.ingest_advisories(parsed).await?;
        eprintln!(
            "advisories: {} added, {} updated, {} unchanged, {} rejected",
            report.added,
            report.updated,
            report.unchanged,
            report.rejected.len()
        );
        // A refused sample is worth seeing but not worth stopping the quickstart for (the
        // sample folders hold files that are not advisories).
        for r in &report.rejected {
            eprintln!("  rejected {r}");
        }
    }

    println!();
    println!("medguard fleet server: {base}/   (Ctrl-C stops everything)");
    println!(
        "  your browser will not know its certificate authority: trust {} or accept the warning",
        dir.ca_path().display()
    );
    match &link {
        Some(issued) => println!(
            "  first administrator's one-time set-up link (valid until {}):\n  {base}/setup/{}",
            super::rfc3339(issued.link.expires_at),
            issued.token.reveal()
        ),
        None => println!("  sign in as admin with your passphrase and authenticator code"),
    }
    println!(
        "  this machine reports every {}",
        medguard_host::format_duration(a.interval)
    );
    println!();

    let report = |config: AgentConfig| {
        medguard_agent::report_once(
            state.clone(),
            config,
            Arc::new(SystemClock),
            ReportOptions {
                scan: ScanPolicy::Skip,
                timeouts: Timeouts::default(),
            },
        )
    };
    let mut ticker = tokio::time::interval(a.interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let outcome = match AgentConfig::load(&config_path) {
                    Ok(config) => report(config).await.map_err(anyhow::Error::from),
                    Err(e) => Err(e.into()),
                };
                match outcome {
                    Ok(s) => eprintln!(
                        "this machine reported: {} stored, {} still queued{}",
                        s.send.stored.len(),
                        s.send.remaining,
                        if s.found() { " (something found: see the dashboard)" } else { "" }
                    ),
                    Err(e) => eprintln!("this machine could not report: {e:#}"),
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = &mut serving => anyhow::bail!("the server stopped"),
        }
    }
    let _ = stop.send(true);
    let _ = serving.await;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}
