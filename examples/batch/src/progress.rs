//! Progress on stderr: an indicatif bar with rate and ETA on a terminal, plain periodic lines
//! otherwise (CI logs, `nohup`, files).
//!
//! The pipeline only bumps atomic [`Counters`]; one reporter thread reads them, so progress
//! costs the workers nothing. The bar's unit is input lines (the total comes from a quick
//! newline count that runs alongside the job); its message shows records ok / failed / skipped.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always the bar.
    Bar,
    /// Always plain lines.
    Plain,
    /// Nothing until the summary.
    Off,
}

impl ProgressMode {
    /// `Auto` resolved against stderr.
    pub fn resolve(self) -> ProgressMode {
        match self {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        }
    }
}

/// Shared counters of a running job.
#[derive(Debug, Default)]
pub struct Counters {
    /// Lines read from the input.
    pub lines: AtomicU64,
    /// Lines whose fate is settled (written, skipped, blank or another shard's).
    pub settled: AtomicU64,
    /// Records with a result.
    pub succeeded: AtomicU64,
    /// Records and lines in the errors file.
    pub failed: AtomicU64,
    /// Records skipped because the results file already has them.
    pub skipped: AtomicU64,
    /// Records (and unreadable lines) left to other shards.
    pub other_shards: AtomicU64,
    /// Blank lines.
    pub blank: AtomicU64,
    /// Total lines of the input once counted (0 until then).
    pub total_lines: AtomicU64,
}

impl Counters {
    /// Adds one to `counter` and to `settled`.
    pub fn settle(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.settled.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Counts the lines of `path` (a final line without newline counts) into
/// `counters.total_lines`, on its own thread; errors just leave the total unknown.
pub fn count_lines_in_background(path: PathBuf, counters: Arc<Counters>) {
    let _ = std::thread::Builder::new()
        .name("batch-line-count".into())
        .spawn(move || {
            if let Ok(total) = count_lines(&path) {
                counters.total_lines.store(total, Ordering::Relaxed);
            }
        });
}

/// The number of lines in `path`, reading it in 64 KiB chunks.
pub fn count_lines(path: &std::path::Path) -> std::io::Result<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut lines = 0u64;
    let mut last = b'\n';
    loop {
        let read = file.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        lines += chunk[..read].iter().filter(|&&byte| byte == b'\n').count() as u64;
        last = chunk[read - 1];
    }
    Ok(lines + u64::from(last != b'\n'))
}

/// Formats `n` with thousands separators (`12,345`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Formats a rate with thousands separators and one decimal (`2,698.4`).
pub fn rate(value: f64) -> String {
    let tenths = (value.max(0.0) * 10.0).round() as u64;
    format!("{}.{}", thousands(tenths / 10), tenths % 10)
}

/// The running reporter; [`finish`](Reporter::finish) stops it.
#[derive(Debug)]
pub struct Reporter {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting `counters` in `mode` (resolved), plain lines every `interval`.
    pub fn start(mode: ProgressMode, counters: Arc<Counters>, interval: Duration) -> Reporter {
        let done = Arc::new(AtomicBool::new(false));
        let thread = match mode.resolve() {
            ProgressMode::Off | ProgressMode::Auto => None,
            ProgressMode::Bar => {
                let done = Arc::clone(&done);
                std::thread::Builder::new()
                    .name("batch-progress".into())
                    .spawn(move || bar_loop(&counters, &done))
                    .ok()
            }
            ProgressMode::Plain => {
                let done = Arc::clone(&done);
                std::thread::Builder::new()
                    .name("batch-progress".into())
                    .spawn(move || plain_loop(&counters, &done, interval))
                    .ok()
            }
        };
        Reporter { done, thread }
    }

    /// Stops the reporter (the bar is cleared; the summary follows).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn message(counters: &Counters) -> String {
    format!(
        "{} ok · {} failed · {} skipped",
        thousands(Counters::get(&counters.succeeded)),
        thousands(Counters::get(&counters.failed)),
        thousands(Counters::get(&counters.skipped)),
    )
}

fn bar_loop(counters: &Counters, done: &AtomicBool) {
    let start = Instant::now();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    let style = ProgressStyle::with_template(
        "{spinner:.green} [{elapsed_precise}] {bar:30.cyan/blue} {percent:>3}% {human_pos}/{human_len} lines · ETA {eta} · {msg}",
    )
    .map(|style| style.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    let mut length_set = false;
    while !done.load(Ordering::Relaxed) {
        if !length_set {
            let total = Counters::get(&counters.total_lines);
            if total > 0 {
                bar.set_length(total);
                length_set = true;
            }
        }
        let processed = Counters::get(&counters.succeeded) + Counters::get(&counters.failed);
        let elapsed = start.elapsed().as_secs_f64().max(1e-9);
        bar.set_position(Counters::get(&counters.settled));
        bar.set_message(format!(
            "{} · {} rec/s",
            message(counters),
            rate(processed as f64 / elapsed)
        ));
        std::thread::park_timeout(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn plain_loop(counters: &Counters, done: &AtomicBool, interval: Duration) {
    let start = Instant::now();
    let mut next = start + interval;
    loop {
        if done.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        if now < next {
            std::thread::park_timeout(next - now);
            continue;
        }
        next += interval;
        let elapsed = start.elapsed().as_secs_f64().max(1e-9);
        let settled = Counters::get(&counters.settled);
        let total = Counters::get(&counters.total_lines);
        let processed = Counters::get(&counters.succeeded) + Counters::get(&counters.failed);
        let of_total = if total > 0 {
            let eta = if settled > 0 && total > settled {
                let seconds = (total - settled) as f64 * elapsed / settled as f64;
                format!(", ETA {}", human_duration(seconds))
            } else {
                String::new()
            };
            format!(
                "/{} lines ({:.1}%{eta})",
                thousands(total),
                settled as f64 * 100.0 / total as f64
            )
        } else {
            " lines".into()
        };
        eprintln!(
            "progress [{}]: {}{of_total} · {} · {} rec/s",
            human_duration(elapsed),
            thousands(settled),
            message(counters),
            rate(processed as f64 / elapsed),
        );
    }
}

/// `1h02m`, `3m05s`, `12.3s`, `0.04s`.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 10.0 {
        return format!("{seconds:.2}s");
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let total = seconds.round() as u64;
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else {
        format!("{minutes}m{secs:02}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_duration(12.34), "12.3s");
        assert_eq!(human_duration(0.041), "0.04s");
        assert_eq!(rate(2698.44), "2,698.4");
        assert_eq!(human_duration(185.0), "3m05s");
        assert_eq!(human_duration(3720.0), "1h02m");
    }

    #[test]
    fn counts_lines_with_and_without_final_newline() {
        let dir =
            std::env::temp_dir().join(format!("promptops-batch-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.jsonl");
        std::fs::write(&path, "a\nb\nc").unwrap();
        assert_eq!(count_lines(&path).unwrap(), 3);
        std::fs::write(&path, "a\nb\n").unwrap();
        assert_eq!(count_lines(&path).unwrap(), 2);
        std::fs::write(&path, "").unwrap();
        assert_eq!(count_lines(&path).unwrap(), 0);
    }
}
