//! `medguard allowlist`: build, check and enforce executable allowlists.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use medguard_allowlist::build::build;
use medguard_allowlist::check::check_path;
use medguard_allowlist::enforce::{
    Denial, EnforceOptions, Enforcer, Mark, Mode, TimeoutAnswer, covering_mounts,
};
use medguard_allowlist::list::{VerifiedAllowlist, load};
use medguard_allowlist::rules::ListRules;
use medguard_audit::{AuditWriter, WriterOptions};
use medguard_digest::{PublicKey, SigningKey};
use medguard_host::{SystemClock, host_name};

#[derive(Debug, Subcommand)]
pub enum AllowlistCommand {
    /// Build a signed allowlist from a signed system profile.
    ///
    /// Lists every executable, shared library and script of the profile by path and BLAKE3
    /// digest, plus the rules' script directories and vendor exceptions.
    Build {
        /// The signed system profile.
        #[arg(long)]
        profile: PathBuf,
        /// Public key(s) trusted to sign the profile (NAME.pub).
        #[arg(long = "trust", value_name = "NAME.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Rules (TOML): interpreters' script directories and vendor exceptions.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Where the profiled tree sits on the device (and is read to tell scripts and
        /// libraries apart, when present).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        /// Where to write the list.
        #[arg(long)]
        out: PathBuf,
        /// Sign the list with this private key (NAME.key).
        #[arg(long, value_name = "NAME.key")]
        key: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Whether each PATH may run, and why. Exit 0 all allowed, 1 some denied, 2 error.
    Check {
        /// The signed allowlist.
        #[arg(long)]
        list: PathBuf,
        /// Public key(s) trusted to sign the list (NAME.pub).
        #[arg(long = "trust", value_name = "NAME.pub", required = true)]
        trust: Vec<PathBuf>,
        /// Print the verdicts as JSON.
        #[arg(long)]
        json: bool,
        /// Files to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Enforce the list with fanotify until SIGINT or SIGTERM.
    ///
    /// Exit 0 nothing was denied, 1 something was denied (or would have been), 2 error.
    Enforce {
        /// The signed allowlist.
        #[arg(long)]
        list: PathBuf,
        /// Public key(s) trusted to sign the list (NAME.pub).
        #[arg(long = "trust", value_name = "NAME.pub", required = true)]
        trust: Vec<PathBuf>,
        /// audit: log what would be denied; enforce: deny and log.
        #[arg(long, value_enum)]
        mode: ModeArg,
        /// Watch the whole mount containing PATH (repeatable). Without --mount or --dir,
        /// the mounts holding the listed files are watched.
        #[arg(long, value_name = "PATH")]
        mount: Vec<PathBuf>,
        /// Watch DIR and the directories below it (repeatable).
        #[arg(long, value_name = "DIR")]
        dir: Vec<PathBuf>,
        /// Also judge opens of shared libraries (how ld.so loads them); every open on the
        /// watched area then waits for medguard.
        #[arg(long)]
        libraries: bool,
        /// Judge every exec in medguard, instead of letting the kernel remember allowed
        /// files until they are written (slower; see the allowlist crate's enforce docs).
        #[arg(long)]
        no_kernel_cache: bool,
        /// Longest wait for a decision, in milliseconds.
        #[arg(long, default_value_t = 2000, value_name = "N")]
        timeout_ms: u64,
        /// Answer when no decision came in time (default: allow in audit mode, deny in
        /// enforce mode).
        #[arg(long, value_enum)]
        on_timeout: Option<TimeoutArg>,
        /// Write every denial to this audit log directory.
        #[arg(long, value_name = "DIR")]
        audit_log: Option<PathBuf>,
        /// Sign the audit log's checkpoints with this key (NAME.key).
        #[arg(long, value_name = "NAME.key", requires = "audit_log")]
        audit_key: Option<PathBuf>,
        /// Print denials as JSON lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Log what would be denied, deny nothing.
    Audit,
    /// Deny and log.
    Enforce,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimeoutArg {
    /// Let it run.
    Allow,
    /// Refuse it.
    Deny,
}

pub fn run(cmd: AllowlistCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AllowlistCommand::Build {
            profile,
            trust,
            rules,
            root,
            out,
            key,
            json,
        } => {
            let profile = medguard_profile::load_trusted(
                &profile,
                &trust,
                medguard_profile::UnsignedProfiles::Refuse,
            )?;
            let rules = rules
                .as_deref()
                .map(ListRules::load)
                .transpose()?
                .unwrap_or_default();
            let key = SigningKey::load(&key)?;
            let (list, summary) = build(&profile, &rules, &root)?;
            medguard_host::write_bytes_atomically(&out, 0o644, &list.to_signed_text(&key))?;
            if json {
                super::print_json(&summary)?;
            } else {
                let mut o = std::io::stdout().lock();
                writeln!(
                    o,
                    "{}: {} executables, {} libraries, {} scripts, {} exceptions",
                    out.display(),
                    summary.executables,
                    summary.libraries,
                    summary.scripts,
                    summary.exceptions
                )?;
                if summary.classified_without_tree > 0 {
                    writeln!(
                        o,
                        "{} files were not found under {} with the profile's size: classified by mode and name only",
                        summary.classified_without_tree, summary.root
                    )?;
                }
                for p in &summary.unpinned {
                    writeln!(o, "not listed (the profile has no content digest): {p}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AllowlistCommand::Check {
            list,
            trust,
            json,
            paths,
        } => {
            let list = load_list(&list, &trust)?;
            let mut judgements = Vec::with_capacity(paths.len());
            for p in &paths {
                judgements.push(check_path(&list, p)?);
            }
            let code = if judgements.iter().any(|j| !j.verdict.allowed()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            super::exit_after_printing(code, print_judgements(&judgements, json))
        }
        AllowlistCommand::Enforce {
            list,
            trust,
            mode,
            mount,
            dir,
            libraries,
            no_kernel_cache,
            timeout_ms,
            on_timeout,
            audit_log,
            audit_key,
            json,
        } => {
            let mode = match mode {
                ModeArg::Audit => Mode::Audit,
                ModeArg::Enforce => Mode::Enforce,
            };
            let on_timeout = match on_timeout {
                Some(TimeoutArg::Allow) => TimeoutAnswer::Allow,
                Some(TimeoutArg::Deny) => TimeoutAnswer::Deny,
                None => TimeoutAnswer::default_for(mode),
            };
            let list = Arc::new(load_list(&list, &trust)?);
            let mut marks: Vec<Mark> = mount.into_iter().map(Mark::Mount).collect();
            marks.extend(dir.into_iter().map(Mark::Directory));
            if marks.is_empty() {
                marks = covering_mounts(list.list());
            }
            enforce(
                list,
                EnforceOptions {
                    mode,
                    marks,
                    timeout: Duration::from_millis(timeout_ms),
                    on_timeout,
                    libraries,
                    kernel_cache: !no_kernel_cache,
                    clock: Arc::new(SystemClock),
                    source_id: host_name(),
                },
                audit_log.as_deref(),
                audit_key.as_deref(),
                json,
            )
        }
    }
}

fn print_judgements(
    judgements: &[medguard_allowlist::check::Judgement],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return super::print_json(&judgements);
    }
    let mut o = std::io::stdout().lock();
    for j in judgements {
        if j.verdict.allowed() || j.resolved != j.path {
            writeln!(
                o,
                "{}: {} {}",
                j.path.display(),
                j.verdict,
                j.resolved.display()
            )?;
        } else {
            writeln!(o, "{}: {}", j.path.display(), j.verdict)?;
        }
    }
    Ok(())
}

fn enforce(
    list: Arc<VerifiedAllowlist>,
    options: EnforceOptions,
    audit_log: Option<&Path>,
    audit_key: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use nix::sys::signal::{SigSet, Signal};
    // Block the stop signals in every thread (threads inherit the mask) and wait for them
    // here: no handler runs in the middle of answering an event.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block().context("blocking SIGINT/SIGTERM")?;

    let audit = audit_log
        .map(|dir| {
            let key = audit_key.map(SigningKey::load).transpose()?.map(Arc::new);
            anyhow::Ok(AuditWriter::open(
                dir,
                WriterOptions {
                    key,
                    source_id: options.source_id.clone(),
                    ..WriterOptions::default()
                },
            )?)
        })
        .transpose()?;
    let mode = options.mode;
    let marks = options.marks.clone();
    // Runs on the enforcer's logging thread: a closed standard output must not stop it
    // (denials still go to the audit log), so write errors are ignored here.
    let on_denial = Box::new(move |d: &Denial| {
        let mut out = std::io::stdout().lock();
        let _ = if json {
            serde_json::to_writer(&mut out, d)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            writeln!(out, "{d}")
        };
        let _ = out.flush();
    });
    let enforcer = Enforcer::start(list, options, audit, on_denial)?;
    eprintln!(
        "medguard: allowlist {} mode: {} marks on {}; pid {}; SIGINT or SIGTERM stops",
        match mode {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        },
        enforcer.marked(),
        marks
            .iter()
            .map(|m| match m {
                Mark::Mount(p) => format!("mount of {}", p.display()),
                Mark::Directory(p) => p.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        std::process::id()
    );
    let signal = signals.wait().context("waiting for SIGINT/SIGTERM")?;
    let stats = enforcer.stop()?;
    eprintln!(
        "medguard: {signal}: marks removed; {} events, {} cache hits, {} files left to the kernel ({} written since), {} denied, {} would be denied, {} timeouts, {} watchdog answers",
        stats.events,
        stats.cache_hits,
        stats.kernel_cached,
        stats.kernel_forgotten,
        stats.denied,
        stats.would_deny,
        stats.timeouts,
        stats.watchdog
    );
    if stats.log_dropped > 0 || stats.log_errors > 0 {
        eprintln!(
            "medguard: WARNING: {} denials not logged (queue full), {} audit write errors",
            stats.log_dropped, stats.log_errors
        );
    }
    Ok(if stats.denied + stats.would_deny > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn load_list(path: &Path, trust: &[PathBuf]) -> anyhow::Result<VerifiedAllowlist> {
    let keys = PublicKey::load_all(trust).context("loading the trusted keys")?;
    Ok(load(path, &keys)?)
}
