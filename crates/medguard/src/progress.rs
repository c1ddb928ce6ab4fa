//! A progress line on a terminal (entries, bytes, rate), drawn from a library's counters.
//! Silent when stderr is not a terminal.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use medguard_profile::Progress;

/// Draws `progress` until dropped.
pub struct ProgressLine {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLine {
    pub fn start(label: &'static str, progress: Arc<Progress>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Self { stop, thread: None };
        }
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label);
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let secs = start.elapsed().as_secs_f64().max(0.001);
                let bytes = progress.bytes();
                bar.set_message(format!(
                    "{} entries, {} read, {}/s",
                    progress.entries(),
                    HumanBytes(bytes),
                    HumanBytes((bytes as f64 / secs) as u64)
                ));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
