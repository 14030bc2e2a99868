//! A local Bedrock Runtime mock for benchmarks: answers every model id with a fixed label after
//! a fixed latency, on its own thread. Prints `http://127.0.0.1:PORT` on the first stdout line,
//! then serves until killed (or `--max-seconds` passes, so it never outlives a broken script).
//!
//! ```sh
//! cargo run --release -p promptops-batch --example mock_server -- --latency-ms 50
//! ```
//!
//! The mock records every request for assertions; this server forgets them every second so its
//! own memory stays flat during long runs.

use std::io::Write;
use std::time::{Duration, Instant};

use promptops_bedrock_mock::{MockBedrock, Script};

fn arg(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|arg| arg == name) {
        None => Ok(default),
        Some(index) => args
            .get(index + 1)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("{name} needs a whole number")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let latency = Duration::from_millis(arg(&args, "--latency-ms", 50)?);
    let max = Duration::from_secs(arg(&args, "--max-seconds", 1800)?);
    let mock = MockBedrock::start_in_background()?;
    mock.script_default(Script::answer("billing").latency(latency));
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", mock.endpoint_url())?;
    stdout.flush()?;
    let start = Instant::now();
    while start.elapsed() < max {
        std::thread::sleep(Duration::from_secs(1));
        mock.clear_requests();
    }
    Ok(())
}
