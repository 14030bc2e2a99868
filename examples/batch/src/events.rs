//! Where the runtime's `prompt_invoked` / `prompt_completed` / `prompt_failed` events go
//! (`--events PATH`, `-` for stderr). Off by default: three JSON lines per record add up, and
//! on a terminal stderr belongs to the progress bar.
//!
//! Events carry `runtime: "batch"` and, as `request_id`, the record's id, so an event can be
//! matched to its result or error line. The filter is `RUST_LOG` when set, else
//! `promptops=info`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use promptops_runtime::events::{json_subscriber, TARGET};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::BatchError;

/// A shared, buffered event file; each event is written whole under the lock.
#[derive(Debug, Clone)]
pub struct EventFile {
    inner: Arc<Mutex<BufWriter<File>>>,
}

impl EventFile {
    fn lock(&self) -> MutexGuard<'_, BufWriter<File>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writer handed out per event by [`EventFile`].
#[derive(Debug)]
pub struct EventWriter {
    file: EventFile,
}

impl Write for EventWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.file.lock().write(bytes)
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.lock().write_all(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for EventFile {
    type Writer = EventWriter;

    fn make_writer(&'w self) -> Self::Writer {
        EventWriter { file: self.clone() }
    }
}

/// Keeps the event file open; [`finish`](EventsGuard::finish) flushes it.
#[derive(Debug, Default)]
pub struct EventsGuard {
    file: Option<(EventFile, PathBuf)>,
}

impl EventsGuard {
    /// Flushes buffered events to the file.
    pub fn finish(self) -> Result<(), BatchError> {
        if let Some((file, path)) = &self.file {
            file.lock().flush().map_err(|source| BatchError::Output {
                location: path.clone().into(),
                source,
            })?;
        }
        Ok(())
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{TARGET}=info")))
}

/// Installs the global event subscriber: to `path`, or to stderr when `path` is `-`.
pub fn install(path: &Path) -> Result<EventsGuard, BatchError> {
    let config_error = |err: tracing::subscriber::SetGlobalDefaultError| {
        BatchError::Config(format!("cannot install the event logger: {err}"))
    };
    if path.as_os_str() == "-" {
        tracing::subscriber::set_global_default(json_subscriber(io::stderr, filter()))
            .map_err(config_error)?;
        return Ok(EventsGuard::default());
    }
    let file = crate::resume::create_fresh(path).map_err(|source| BatchError::Output {
        location: path.into(),
        source,
    })?;
    let shared = EventFile {
        inner: Arc::new(Mutex::new(BufWriter::with_capacity(64 * 1024, file))),
    };
    tracing::subscriber::set_global_default(json_subscriber(shared.clone(), filter()))
        .map_err(config_error)?;
    Ok(EventsGuard {
        file: Some((shared, path.to_owned())),
    })
}
