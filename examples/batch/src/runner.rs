//! The job: read → (shard, dedup, resume) → bounded concurrent calls → write, streaming.
//!
//! Three threads and one async loop, connected by bounded channels, so memory does not grow
//! with the input (only the id sets do: 16-byte fingerprints in a hash set, 35–51 bytes per id
//! of this shard as measured):
//!
//! ```text
//!  reader thread ──records (2×N)──▶ dispatcher (≤ N tasks) ──outcomes (2×N)──▶ writer thread
//!        └──────────── unusable lines, duplicates ─────────────────────────────▲
//! ```
//!
//! * the reader reads one line at a time (at most `max_line_bytes`), parses it, drops other
//!   shards' records, reports bad lines and duplicate ids, skips ids the results file already
//!   has, and sends the rest;
//! * the dispatcher keeps at most `concurrency` calls in flight on the tokio runtime (a
//!   [`JoinSet`]), and forwards each outcome as soon as its call finishes (results are in
//!   completion order, not input order);
//! * the writer appends results and errors, flushing whenever it has nothing else to do.
//!
//! A stop request ([`StopSignal`], Ctrl-C) stops reading; calls in flight finish and are
//! written, and rerunning the command resumes.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promptops_runtime::{
    Answer, CallOptions, DefRef, InvokeError, OutputError, PromptDef, Resolution, Runtime,
};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::export::{self, ExportLine};
use crate::location::{Location, S3Uri};
use crate::output::{self, Done, Failure, JsonlWriter, Outcome};
use crate::progress::{self, Counters, ProgressMode, Reporter};
use crate::record::{parse_line, Record, RecordError};
use crate::resume::{self, ResumeError, ResumeIndex};
use crate::s3::{self, S3Reader, StagedOutput, S3};
use crate::shard::{IdSet, Shard};
use crate::summary::Summary;
use crate::BatchError;

/// Default longest accepted input line (1 MiB); longer lines are reported and skipped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Default number of calls in flight.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Where a job's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Call the model; append results to this file or S3 object (resuming from it).
    Results(Location),
    /// Call nothing; write a Bedrock batch inference input file.
    BedrockExport(PathBuf),
}

impl Target {
    /// The results or export location.
    pub fn location(&self) -> Location {
        match self {
            Target::Results(location) => location.clone(),
            Target::BedrockExport(path) => Location::File(path.clone()),
        }
    }
}

/// Everything a job needs besides the model.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The JSON Lines input: a file or an S3 object.
    pub input: Location,
    /// Results or export.
    pub target: Target,
    /// The errors file or object; `None` means `<target>.errors.jsonl`.
    pub errors: Option<Location>,
    /// The prompt to run.
    pub prompt: &'static PromptDef,
    /// Calls (and exports) name this Bedrock model id instead of the prompt's.
    pub model_id: Option<String>,
    /// Calls in flight at most (≥ 1).
    pub concurrency: usize,
    /// The slice of the input to handle.
    pub shard: Shard,
    /// Empty the results file instead of resuming from it.
    pub fresh: bool,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Interval of plain progress lines.
    pub progress_interval: Duration,
    /// Longest accepted input line in bytes.
    pub max_line_bytes: usize,
    /// Resume a results file written with another prompt version (normally refused: one run,
    /// one version).
    pub allow_version_change: bool,
    /// The S3 client for `s3://` locations; `None` builds one from the standard AWS
    /// configuration when a location needs it.
    pub s3: Option<S3>,
    /// Bytes of results gathered before they are staged to S3 (see [`crate::s3`]).
    pub stage_bytes: usize,
    /// The Bedrock quotas an export is split by.
    pub export_limits: export::ExportLimits,
}

impl JobConfig {
    /// A configuration with the defaults: no shard, resume, auto progress every 10 s.
    pub fn new(input: impl Into<Location>, target: Target, prompt: &'static PromptDef) -> Self {
        JobConfig {
            input: input.into(),
            target,
            errors: None,
            prompt,
            model_id: None,
            concurrency: DEFAULT_CONCURRENCY,
            shard: Shard::ALL,
            fresh: false,
            progress: ProgressMode::Auto,
            progress_interval: Duration::from_secs(10),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            allow_version_change: false,
            s3: None,
            stage_bytes: s3::DEFAULT_STAGE_BYTES,
            export_limits: export::ExportLimits::default(),
        }
    }

    /// The errors file or object: the configured one, else `<target>.errors.jsonl`.
    pub fn errors_location(&self) -> Location {
        match &self.errors {
            Some(location) => location.clone(),
            None => self.target.location().with_suffix(".errors.jsonl"),
        }
    }

    /// Every place the job reads or writes: input, target, errors.
    pub fn locations(&self) -> [Location; 3] {
        [
            self.input.clone(),
            self.target.location(),
            self.errors_location(),
        ]
    }

    /// Whether any location is an S3 object.
    pub fn uses_s3(&self) -> bool {
        self.locations().iter().any(Location::is_s3)
    }

    /// The model id calls name.
    pub fn model_id(&self) -> &str {
        self.model_id.as_deref().unwrap_or(&self.prompt.model_id)
    }

    /// Rejects configurations that would lose or clobber data.
    pub fn validate(&self) -> Result<(), BatchError> {
        if self.concurrency == 0 {
            return Err(BatchError::Config(
                "--concurrency must be at least 1".into(),
            ));
        }
        if self.max_line_bytes == 0 {
            return Err(BatchError::Config(
                "--max-line-bytes must be at least 1".into(),
            ));
        }
        s3::check_stage_bytes(self.stage_bytes).map_err(BatchError::Config)?;
        let errors = self.errors_location();
        let target = self.target.location();
        let same = |a: &Location, b: &Location| {
            a == b
                || matches!(
                    (a.as_file().map(Path::canonicalize), b.as_file().map(Path::canonicalize)),
                    (Some(Ok(a)), Some(Ok(b))) if a == b
                )
        };
        if same(&self.input, &target) || same(&self.input, &errors) || same(&target, &errors) {
            return Err(BatchError::Config(format!(
                "the input ({}), the output ({target}) and the errors file ({errors}) must be three different files",
                self.input,
            )));
        }
        for location in [&self.input, &target, &errors] {
            if location.has_shard_placeholder() {
                return Err(BatchError::Config(format!(
                    "{location} still has the {} placeholder: give --shard to fill it",
                    crate::location::SHARD_PLACEHOLDER
                )));
            }
        }
        Ok(())
    }
}

/// Asks a running job to stop reading (Ctrl-C). Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopSignal {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal {
            sender: Arc::new(watch::channel(false).0),
        }
    }
}

impl StopSignal {
    /// A signal nobody has raised yet.
    pub fn new() -> Self {
        StopSignal::default()
    }

    /// Raises the signal.
    pub fn request(&self) {
        self.sender.send_replace(true);
    }

    /// Whether the signal was raised.
    pub fn is_requested(&self) -> bool {
        *self.sender.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }
}

/// One input line's fate, as decided by the [`Scanner`].
#[derive(Debug, PartialEq)]
pub enum Item {
    /// A record to call the model for.
    Work(Record),
    /// An unusable line or record, for the errors file.
    Failed(Failure),
    /// The results file already has this id.
    Skipped,
    /// Another shard's record (or unreadable line).
    OtherShard,
    /// A blank line.
    Blank,
}

/// Reads input lines one at a time and decides each line's [`Item`].
#[derive(Debug)]
pub struct Scanner<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    max_line_bytes: usize,
    def: &'static PromptDef,
    shard: Shard,
    seen: IdSet,
    done: IdSet,
}

enum RawLine {
    Text,
    TooLong,
}

impl<R: BufRead> Scanner<R> {
    /// A scanner for `def`'s records of `shard`, skipping the ids in `done`.
    pub fn new(
        reader: R,
        def: &'static PromptDef,
        shard: Shard,
        done: IdSet,
        max_line_bytes: usize,
    ) -> Self {
        Scanner {
            reader,
            buf: Vec::with_capacity(1024),
            line: 0,
            max_line_bytes,
            def,
            shard,
            seen: IdSet::new(),
            done,
        }
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    fn read_raw(&mut self) -> io::Result<Option<RawLine>> {
        self.buf.clear();
        let limit = self.max_line_bytes as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(None);
        }
        if self.buf.last() != Some(&b'\n') && self.buf.len() > self.max_line_bytes {
            // Skip the rest of the line without holding it.
            loop {
                let available = self.reader.fill_buf()?;
                if available.is_empty() {
                    break;
                }
                match available.iter().position(|&byte| byte == b'\n') {
                    Some(end) => {
                        self.reader.consume(end + 1);
                        break;
                    }
                    None => {
                        let len = available.len();
                        self.reader.consume(len);
                    }
                }
            }
            self.buf.clear();
            return Ok(Some(RawLine::TooLong));
        }
        Ok(Some(RawLine::Text))
    }

    fn line_failure(&self, error: RecordError) -> Item {
        if self.shard.owns_line(self.line) {
            Item::Failed(failure(self.line, None, &error))
        } else {
            Item::OtherShard
        }
    }

    /// The next line's fate; `None` at the end of the input.
    pub fn next_item(&mut self) -> io::Result<Option<Item>> {
        let raw = match self.read_raw()? {
            None => return Ok(None),
            Some(raw) => raw,
        };
        self.line += 1;
        if let RawLine::TooLong = raw {
            return Ok(Some(self.line_failure(RecordError::TooLong {
                limit: self.max_line_bytes,
            })));
        }
        let Ok(text) = std::str::from_utf8(&self.buf) else {
            return Ok(Some(self.line_failure(RecordError::InvalidUtf8)));
        };
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            return Ok(Some(Item::Blank));
        }
        let parsed = match parse_line(text) {
            Ok(parsed) => parsed,
            Err(error) => return Ok(Some(self.line_failure(error))),
        };
        if !self.shard.owns_id(&parsed.id) {
            return Ok(Some(Item::OtherShard));
        }
        if !self.seen.insert(&parsed.id) {
            let error = RecordError::DuplicateId;
            return Ok(Some(Item::Failed(failure(
                self.line,
                Some(parsed.id),
                &error,
            ))));
        }
        if self.done.contains(&parsed.id) {
            return Ok(Some(Item::Skipped));
        }
        let id = parsed.id.clone();
        Ok(Some(match parsed.into_record(self.def, self.line) {
            Ok(record) => Item::Work(record),
            Err(error) => Item::Failed(failure(self.line, Some(id), &error)),
        }))
    }
}

fn failure(line: u64, id: Option<String>, error: &RecordError) -> Failure {
    Failure {
        line,
        id,
        kind: error.kind(),
        message: error.to_string(),
        attempts: 0,
    }
}

/// The input as a byte stream (blocking: call it from a plain thread).
pub(crate) fn open_input(
    location: &Location,
    s3: Option<&S3>,
) -> Result<Box<dyn Read + Send>, BatchError> {
    let input_error = |source| BatchError::Input {
        location: location.clone(),
        source,
    };
    match location {
        Location::File(path) => {
            let file = File::open(path).map_err(input_error)?;
            match file.metadata() {
                Ok(meta) if meta.is_dir() => Err(input_error(io::Error::other("is a directory"))),
                _ => Ok(Box::new(file)),
            }
        }
        Location::S3(uri) => {
            let reader =
                S3Reader::open(need_s3(s3)?, uri).map_err(|err| input_error(err.into()))?;
            Ok(Box::new(reader))
        }
    }
}

fn need_s3(s3: Option<&S3>) -> Result<&S3, BatchError> {
    s3.ok_or_else(|| BatchError::Config("an s3:// location needs an S3 client".into()))
}

/// A new, empty output at `location` (blocking): a truncated file, or an S3 object started over
/// (staged every `stage_bytes`).
pub(crate) fn create_output(
    location: &Location,
    stage_bytes: usize,
    s3: Option<&S3>,
) -> Result<JsonlWriter, BatchError> {
    match location {
        Location::File(path) => resume::create_fresh(path)
            .map(JsonlWriter::new)
            .map_err(output_error(location)),
        Location::S3(uri) => StagedOutput::create(need_s3(s3)?, uri, stage_bytes)
            .map(JsonlWriter::new)
            .map_err(|err| output_error(location)(err.into())),
    }
}

pub(crate) fn output_error(location: &Location) -> impl Fn(io::Error) -> BatchError + '_ {
    move |source| BatchError::Output {
        location: location.clone(),
        source,
    }
}

/// Runs blocking work (file and S3 I/O) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BatchError> + Send + 'static,
) -> Result<T, BatchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| BatchError::Config(format!("a blocking task failed: {err}")))?
}

/// Totals the writer thread accumulates.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

/// Renders and calls one record; never fails (failures become [`Outcome::Failed`]).
pub async fn process(
    runtime: &Runtime,
    def: &'static PromptDef,
    model_id: Option<&str>,
    record: Record,
) -> Outcome {
    process_resolved(runtime, def, &Resolution::compiled(def), model_id, record).await
}

/// [`process`] with the run's resolution of `compiled`: the registry version it pinned (or
/// the compiled prompt). A record the pinned version cannot render (over a render budget)
/// runs the compiled prompt instead, as every call through the runtime does, and its result
/// line records the version that ran.
pub async fn process_resolved(
    runtime: &Runtime,
    compiled: &'static PromptDef,
    resolution: &Resolution,
    model_id: Option<&str>,
    record: Record,
) -> Outcome {
    let options = CallOptions {
        request_id: Some(record.id.clone()),
        model_id: model_id.map(str::to_owned),
        ..CallOptions::default()
    };
    let rendered = match record.render_resolution(compiled, resolution) {
        Ok(rendered) => rendered,
        Err(err) => {
            runtime.emit_render_failure(compiled, &options, &err.to_string());
            return Outcome::Failed(Failure {
                line: record.line,
                id: Some(record.id),
                kind: "render",
                message: err.to_string(),
                attempts: 0,
            });
        }
    };
    let ran = rendered.prompt.clone();
    let result = runtime
        .complete(&rendered, &options, |answer| record_output(&ran, answer))
        .await;
    match result {
        Ok(done) => Outcome::Done(Done {
            id: record.id,
            prompt: done.prompt,
            output: done.output,
            input_tokens: done.input_tokens,
            output_tokens: done.output_tokens,
            cost_usd: done.cost_usd,
            latency_ms: u64::try_from(done.latency.as_millis()).unwrap_or(u64::MAX),
            attempts: done.attempts,
            repair_turns: ran.output_schema.is_some().then_some(done.repair_turns),
        }),
        Err(err) => Outcome::Failed(invoke_failure(record.line, record.id, &err)),
    }
}

/// The `output` of a result line: a classifier's answer is the label it names (one of its
/// labels), free text is the text, and a structured answer (already checked against the
/// output schema) is its object. Live calls and the import of Bedrock batch inference output
/// both use it.
pub fn record_output(ran: &PromptDef, answer: Answer<'_>) -> Result<Value, OutputError> {
    match answer {
        Answer::Text(text) if ran.is_classifier() => Ok(Value::String(
            promptops_runtime::parse_label(ran, text)?.to_owned(),
        )),
        Answer::Text(text) => Ok(Value::String(text.to_owned())),
        Answer::Checked(value) => Ok(value.clone()),
    }
}

fn invoke_failure(line: u64, id: String, err: &InvokeError) -> Failure {
    Failure {
        line,
        id: Some(id),
        kind: err.kind(),
        message: err.to_string(),
        attempts: err.attempts(),
    }
}

/// Runs a job: calls the model ([`Target::Results`]) or writes a Bedrock export
/// ([`Target::BedrockExport`], `runtime` unused).
pub async fn run(
    config: &JobConfig,
    runtime: &Runtime,
    stop: &StopSignal,
) -> Result<Summary, BatchError> {
    config.validate()?;
    let mut config = config.clone();
    config.s3 = S3::for_locations(config.s3.take(), config.locations().iter()).await;
    match config.target.clone() {
        Target::Results(location) => run_invoke(&config, location, runtime, stop).await,
        Target::BedrockExport(path) => {
            let stop = stop.clone();
            blocking(move || run_export(&config, &path, &stop)).await
        }
    }
}

struct Prepared {
    scanner: Scanner<BufReader<Box<dyn Read + Send>>>,
    errors: JsonlWriter,
    errors_location: Location,
    counters: Arc<Counters>,
    reporter: Reporter,
    start: Instant,
}

/// Starts reading `input` (opened by [`open_input`]) and a fresh errors output (blocking).
fn prepare(
    config: &JobConfig,
    input: Box<dyn Read + Send>,
    done: IdSet,
) -> Result<Prepared, BatchError> {
    let start = Instant::now();
    let errors_location = config.errors_location();
    let errors = create_output(&errors_location, config.stage_bytes, config.s3.as_ref())?;
    let counters = Arc::new(Counters::default());
    // A local input is counted for the progress total; an S3 input is not read twice.
    if let Some(path) = config.input.as_file() {
        progress::count_lines_in_background(path.to_owned(), Arc::clone(&counters));
    }
    let reporter = Reporter::start(
        config.progress,
        Arc::clone(&counters),
        config.progress_interval,
    );
    let scanner = Scanner::new(
        BufReader::with_capacity(64 * 1024, input),
        config.prompt,
        config.shard,
        done,
        config.max_line_bytes,
    );
    Ok(Prepared {
        scanner,
        errors,
        errors_location,
        counters,
        reporter,
        start,
    })
}

/// The definition a run pinned, for the run's life: records borrow its variable names and the
/// job keeps it to the end. A registry version is shared by the resolver (and dropped when
/// replaced), so the run keeps its own copy: one definition per run, never one per version
/// the process meets, which is what keeps a long-running resolver's memory bounded.
fn run_lifetime(def: &DefRef) -> &'static PromptDef {
    match def {
        DefRef::Static(def) => def,
        DefRef::Shared(def) => Box::leak(Box::new(PromptDef::clone(def))),
    }
}

/// The results output, resumed unless `--fresh` (blocking): its writer and the ids it holds.
fn open_results(
    config: &JobConfig,
    location: &Location,
    compiled: &PromptDef,
) -> Result<(JsonlWriter, ResumeIndex), BatchError> {
    let def = config.prompt;
    let (writer, index) = match location {
        Location::File(path) if !config.fresh && path.exists() => {
            let index = resume::scan_results(path, &def.id)?;
            let file = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(output_error(location))?;
            (JsonlWriter::new(file), Some(index))
        }
        Location::S3(uri) if !config.fresh => {
            let s3 = need_s3(config.s3.as_ref())?;
            let staged = StagedOutput::resume(s3, uri, config.stage_bytes)
                .map_err(|err| output_error(location)(err.into()))?;
            let mut index = ResumeIndex::default();
            for source in staged.sources() {
                let object = S3Uri {
                    bucket: uri.bucket.clone(),
                    key: source.key.clone(),
                };
                let read_error = |err: s3::S3Error| ResumeError::Io {
                    location: Location::S3(object.clone()),
                    source: err.into(),
                };
                let reader = S3Reader::open(s3, &object).map_err(read_error)?;
                resume::scan_object(
                    BufReader::with_capacity(64 * 1024, reader),
                    &Location::S3(object.clone()),
                    &def.id,
                    &mut index,
                )?;
            }
            (JsonlWriter::new(staged), Some(index))
        }
        _ => (
            create_output(location, config.stage_bytes, config.s3.as_ref())?,
            None,
        ),
    };
    if let Some(index) = &index {
        // The compiled prompt's version is every run's fallback (a record the pinned version
        // cannot render runs it), so its lines belong to this run too.
        if let Some(found) = index.other_version(&[def.version, compiled.version]) {
            if !config.allow_version_change {
                return Err(BatchError::VersionChanged {
                    location: location.clone(),
                    found,
                    running: def.version.to_string(),
                });
            }
        }
    }
    Ok((writer, index.unwrap_or_default()))
}

async fn run_invoke(
    config: &JobConfig,
    results_location: Location,
    runtime: &Runtime,
    stop: &StopSignal,
) -> Result<Summary, BatchError> {
    // Fail on an unreadable input before touching any output; the job reads this stream.
    let input = {
        let config = config.clone();
        blocking(move || open_input(&config.input, config.s3.as_ref())).await?
    };
    // Resolve once (through the registry when the runtime has one) and pin that version for
    // the whole run: every record renders the same text, and every result line records it.
    let resolution = runtime.resolve(config.prompt).await;
    if let Some(resolver) = runtime.resolver() {
        resolver.pin(config.prompt, resolution.def.version);
    }
    let compiled = config.prompt;
    let mut pinned = config.clone();
    pinned.prompt = run_lifetime(&resolution.def);
    let (results, truncated_bytes, prepared) = {
        let pinned = pinned.clone();
        let results_location = results_location.clone();
        blocking(move || {
            let (results, index) = open_results(&pinned, &results_location, compiled)?;
            let prepared = prepare(&pinned, input, index.done)?;
            Ok((results, index.truncated_bytes, prepared))
        })
        .await?
    };
    let config = &pinned;
    let def = config.prompt;
    let Prepared {
        mut scanner,
        errors,
        errors_location,
        counters,
        reporter,
        start,
    } = prepared;

    let capacity = config.concurrency.saturating_mul(2).max(16);
    let (work_tx, work_rx) = mpsc::channel::<Record>(capacity);
    let (out_tx, out_rx) = mpsc::channel::<Outcome>(capacity);

    let writer = {
        let counters = Arc::clone(&counters);
        let stop = stop.clone();
        let errors_location = errors_location.clone();
        std::thread::Builder::new()
            .name("batch-writer".into())
            .spawn(move || {
                write_loop(
                    out_rx,
                    results,
                    errors,
                    def,
                    &counters,
                    &stop,
                    (&results_location, &errors_location),
                )
            })
            .map_err(|err| BatchError::Config(format!("cannot start the writer thread: {err}")))?
    };
    let reader = {
        let counters = Arc::clone(&counters);
        let stop = stop.clone();
        let out_tx = out_tx.clone();
        std::thread::Builder::new()
            .name("batch-reader".into())
            .spawn(move || -> io::Result<u64> {
                while !stop.is_requested() {
                    let Some(item) = scanner.next_item()? else {
                        break;
                    };
                    counters.lines.fetch_add(1, Ordering::Relaxed);
                    let sent = match item {
                        Item::Work(record) => work_tx.blocking_send(record).is_ok(),
                        Item::Failed(failure) => {
                            out_tx.blocking_send(Outcome::Failed(failure)).is_ok()
                        }
                        Item::Skipped => {
                            counters.settle(&counters.skipped);
                            true
                        }
                        Item::OtherShard => {
                            counters.settle(&counters.other_shards);
                            true
                        }
                        Item::Blank => {
                            counters.settle(&counters.blank);
                            true
                        }
                    };
                    if !sent {
                        break;
                    }
                }
                Ok(scanner.lines())
            })
            .map_err(|err| BatchError::Config(format!("cannot start the reader thread: {err}")))?
    };

    dispatch(
        work_rx,
        out_tx,
        runtime,
        (compiled, resolution),
        config.model_id.as_deref(),
        config.concurrency,
        stop,
    )
    .await;

    // The dispatcher has returned: the reader's channels are closed, so it ends promptly.
    // Joined off the async workers: the writer may still be completing an S3 object, and its
    // S3 calls need this runtime to make progress.
    let (read, written) = tokio::task::spawn_blocking(move || (reader.join(), writer.join()))
        .await
        .map_err(|err| BatchError::Config(format!("joining the job's threads failed: {err}")))?;
    let read = read.map_err(|_| BatchError::Config("the reader thread panicked".into()))?;
    let written = written.map_err(|_| BatchError::Config("the writer thread panicked".into()))?;
    reporter.finish();
    let lines = read.map_err(|source| BatchError::Input {
        location: config.input.clone(),
        source,
    })?;
    let totals = written?;
    Ok(summary(
        config,
        "invoke",
        runtime.model().backend(),
        &counters,
        lines,
        totals,
        truncated_bytes,
        start,
        stop.is_requested(),
        None,
    ))
}

#[allow(clippy::too_many_arguments)]
fn summary(
    config: &JobConfig,
    mode: &'static str,
    backend: &'static str,
    counters: &Counters,
    lines: u64,
    totals: Totals,
    truncated_bytes: u64,
    start: Instant,
    interrupted: bool,
    next_steps: Option<String>,
) -> Summary {
    let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
    let elapsed_s = start.elapsed().as_secs_f64();
    let (succeeded, failed, skipped) = (
        get(&counters.succeeded),
        get(&counters.failed),
        get(&counters.skipped),
    );
    Summary {
        mode,
        prompt_id: &config.prompt.id,
        prompt_version: config.prompt.version,
        model_id: config.model_id().to_owned(),
        backend,
        shard: config.shard.to_string(),
        concurrency: config.concurrency,
        input: config.input.to_string(),
        output: config.target.location().to_string(),
        errors: config.errors_location().to_string(),
        lines,
        records: succeeded + failed + skipped,
        succeeded,
        failed,
        skipped,
        other_shards: get(&counters.other_shards),
        truncated_bytes,
        elapsed_s,
        throughput_rps: (succeeded + failed) as f64 / elapsed_s.max(1e-9),
        input_tokens: totals.input_tokens,
        output_tokens: totals.output_tokens,
        cost_usd: totals.cost_usd,
        interrupted,
        next_steps,
    }
}

/// Keeps at most `concurrency` calls in flight and forwards outcomes to the writer.
async fn dispatch(
    mut work_rx: mpsc::Receiver<Record>,
    out_tx: mpsc::Sender<Outcome>,
    runtime: &Runtime,
    (compiled, resolution): (&'static PromptDef, Resolution),
    model_id: Option<&str>,
    concurrency: usize,
    stop: &StopSignal,
) {
    let model_id: Option<Arc<str>> = model_id.map(Arc::from);
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    // Id and line of each call in flight, to account for a call that panics.
    let mut in_flight: HashMap<tokio::task::Id, (String, u64)> =
        HashMap::with_capacity(concurrency);
    let mut stop_rx = stop.subscribe();
    let mut stopped = stop.is_requested();
    let mut input_open = true;
    loop {
        let can_take = input_open && !stopped && tasks.len() < concurrency;
        if !can_take && tasks.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            changed = stop_rx.changed(), if !stopped => {
                // A dropped sender cannot raise the signal any more: treat it as raised.
                if changed.is_err() || *stop_rx.borrow() {
                    stopped = true;
                    work_rx.close();
                }
            }
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let outcome = match joined {
                    Ok((task, outcome)) => {
                        in_flight.remove(&task);
                        outcome
                    }
                    Err(err) => {
                        let (id, line) = in_flight.remove(&err.id()).unwrap_or_default();
                        Outcome::Failed(Failure {
                            line,
                            id: Some(id),
                            kind: "panic",
                            message: format!("the call failed unexpectedly: {err}"),
                            attempts: 0,
                        })
                    }
                };
                if out_tx.send(outcome).await.is_err() {
                    // The writer is gone (it only ends early on a write error): stop.
                    stop.request();
                }
            }
            received = work_rx.recv(), if can_take => match received {
                Some(record) => {
                    let key = (record.id.clone(), record.line);
                    let runtime = runtime.clone();
                    let model_id = model_id.clone();
                    let resolution = resolution.clone();
                    let handle = tasks.spawn(async move {
                        process_resolved(
                            &runtime,
                            compiled,
                            &resolution,
                            model_id.as_deref(),
                            record,
                        )
                        .await
                    });
                    in_flight.insert(handle.id(), key);
                }
                None => input_open = false,
            },
        }
    }
}

fn write_loop(
    mut out_rx: mpsc::Receiver<Outcome>,
    mut results: JsonlWriter,
    mut errors: JsonlWriter,
    def: &'static PromptDef,
    counters: &Counters,
    stop: &StopSignal,
    (results_location, errors_location): (&Location, &Location),
) -> Result<Totals, BatchError> {
    let mut totals = Totals::default();
    let mut first_error: Option<BatchError> = None;
    loop {
        let outcome = match out_rx.try_recv() {
            Ok(outcome) => outcome,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Nothing waiting: a good moment to make progress durable.
                if first_error.is_none() {
                    if let Err(err) = results.flush() {
                        first_error = Some(output_error(results_location)(err));
                    } else if let Err(err) = errors.flush() {
                        first_error = Some(output_error(errors_location)(err));
                    }
                }
                match out_rx.blocking_recv() {
                    Some(outcome) => outcome,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        if first_error.is_some() {
            // Keep draining so no sender blocks, but write nothing more.
            continue;
        }
        let written = match &outcome {
            Outcome::Done(done) => output::write_result(&mut results, done)
                .map_err(output_error(results_location))
                .map(|()| {
                    totals.input_tokens += u64::from(done.input_tokens.unwrap_or(0));
                    totals.output_tokens += u64::from(done.output_tokens.unwrap_or(0));
                    totals.cost_usd += done.cost_usd.unwrap_or(0.0);
                    counters.settle(&counters.succeeded);
                }),
            Outcome::Failed(failure) => output::write_error(&mut errors, def, failure)
                .map_err(output_error(errors_location))
                .map(|()| counters.settle(&counters.failed)),
        };
        if let Err(err) = written {
            first_error = Some(err);
            stop.request();
        }
    }
    // Both outputs are finished whatever happened, so what was written is kept (an S3 object
    // is completed from its staged parts); the first error is the one reported.
    let results_done = results.finish().map_err(output_error(results_location));
    let errors_done = errors.finish().map_err(output_error(errors_location));
    if let Some(err) = first_error {
        for later in [results_done.err(), errors_done.err()]
            .into_iter()
            .flatten()
        {
            tracing::warn!(error = %later, "after an earlier write error");
        }
        return Err(err);
    }
    results_done?;
    errors_done?;
    Ok(totals)
}

fn run_export(config: &JobConfig, path: &Path, stop: &StopSignal) -> Result<Summary, BatchError> {
    let def = config.prompt;
    let model_id = config.model_id();
    let format = export::format_for(model_id)?;
    // Fail on an unreadable input before touching any output; the export reads this stream.
    let input = open_input(&config.input, config.s3.as_ref())?;
    let mut out = export::ExportFiles::create(path, config.export_limits, def, model_id)?;
    let Prepared {
        mut scanner,
        mut errors,
        errors_location,
        counters,
        reporter,
        start,
    } = prepare(config, input, IdSet::new())?;
    let input_error = |source| BatchError::Input {
        location: config.input.clone(),
        source,
    };
    while !stop.is_requested() {
        let Some(item) = scanner.next_item().map_err(input_error)? else {
            break;
        };
        counters.lines.fetch_add(1, Ordering::Relaxed);
        match item {
            Item::Work(record) => match record.render(def) {
                Ok(rendered) => {
                    out.write(&ExportLine {
                        record_id: &record.id,
                        model_input: export::model_input(format, model_id, &rendered),
                    })?;
                    counters.settle(&counters.succeeded);
                }
                Err(err) => {
                    let failure = Failure {
                        line: record.line,
                        id: Some(record.id),
                        kind: "render",
                        message: err.to_string(),
                        attempts: 0,
                    };
                    output::write_error(&mut errors, def, &failure)
                        .map_err(output_error(&errors_location))?;
                    counters.settle(&counters.failed);
                }
            },
            Item::Failed(failure) => {
                output::write_error(&mut errors, def, &failure)
                    .map_err(output_error(&errors_location))?;
                counters.settle(&counters.failed);
            }
            Item::Skipped => counters.settle(&counters.skipped),
            Item::OtherShard => counters.settle(&counters.other_shards),
            Item::Blank => counters.settle(&counters.blank),
        }
    }
    // Each file's manifest records what it was made from, for `bedrock import`.
    let files = out.finish()?;
    errors.finish().map_err(output_error(&errors_location))?;
    reporter.finish();
    let steps = export::next_steps_for(&files, def, model_id);
    Ok(summary(
        config,
        "export-bedrock",
        "none",
        &counters,
        scanner.lines(),
        Totals::default(),
        0,
        start,
        stop.is_requested(),
        Some(steps),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> &'static PromptDef {
        prompts::get("customer-support.intent-classifier").unwrap()
    }

    fn scan(input: &str, shard: Shard, done: IdSet, max: usize) -> Vec<Item> {
        let mut scanner = Scanner::new(input.as_bytes(), classifier(), shard, done, max);
        let mut items = Vec::new();
        while let Some(item) = scanner.next_item().unwrap() {
            items.push(item);
        }
        items
    }

    #[test]
    fn scanner_reports_bad_lines_with_line_numbers_and_goes_on() {
        let input = "{\"id\":\"a\",\"message\":\"refund please\"}\n\
                     \n\
                     not json\n\
                     {\"message\":\"no id\"}\n\
                     {\"id\":\"a\",\"message\":\"again\"}\n\
                     {\"id\":\"b\"}\n\
                     {\"id\":\"c\",\"message\":\"last, no newline\"}";
        let items = scan(input, Shard::ALL, IdSet::new(), 1024);
        assert_eq!(items.len(), 7);
        assert!(matches!(&items[0], Item::Work(r) if r.id == "a" && r.line == 1));
        assert_eq!(items[1], Item::Blank);
        let failures: Vec<(u64, Option<&str>, &str)> = items
            .iter()
            .filter_map(|item| match item {
                Item::Failed(f) => Some((f.line, f.id.as_deref(), f.kind)),
                _ => None,
            })
            .collect();
        assert_eq!(
            failures,
            vec![
                (3, None, "bad_json"),
                (4, None, "missing_id"),
                (5, Some("a"), "duplicate_id"),
                (6, Some("b"), "missing_input"),
            ]
        );
        assert!(matches!(&items[6], Item::Work(r) if r.id == "c" && r.line == 7));
    }

    #[test]
    fn long_lines_and_bad_utf8_are_reported_not_held() {
        let long = format!("{{\"id\":\"x\",\"message\":\"{}\"}}\n", "y".repeat(5000));
        let input = format!("{long}{{\"id\":\"ok\",\"message\":\"hi\"}}\n");
        let items = scan(&input, Shard::ALL, IdSet::new(), 100);
        assert!(matches!(&items[0], Item::Failed(f) if f.kind == "line_too_long" && f.line == 1));
        assert!(matches!(&items[1], Item::Work(r) if r.id == "ok" && r.line == 2));

        let bytes: &[u8] = b"{\"id\":\"a\",\"message\":\"\xff\"}\n";
        let mut scanner = Scanner::new(bytes, classifier(), Shard::ALL, IdSet::new(), 1024);
        assert!(
            matches!(scanner.next_item().unwrap(), Some(Item::Failed(f)) if f.kind == "invalid_utf8")
        );
    }

    #[test]
    fn done_ids_are_skipped_but_still_count_for_duplicates() {
        let mut done = IdSet::new();
        done.insert("a");
        let input = "{\"id\":\"a\",\"message\":\"x\"}\n{\"id\":\"a\",\"message\":\"x\"}\n";
        let items = scan(input, Shard::ALL, done, 1024);
        assert_eq!(items[0], Item::Skipped);
        assert!(matches!(&items[1], Item::Failed(f) if f.kind == "duplicate_id"));
    }

    #[test]
    fn errors_path_and_validation() {
        let mut config = JobConfig::new(
            "in.jsonl",
            Target::Results("out/r.jsonl".into()),
            classifier(),
        );
        assert_eq!(
            config.errors_location(),
            Location::from("out/r.jsonl.errors.jsonl")
        );
        assert!(config.validate().is_ok());
        assert!(!config.uses_s3());
        config.errors = Some("in.jsonl".into());
        assert!(config.validate().is_err());
        config.errors = None;
        config.concurrency = 0;
        assert!(config.validate().is_err());
        config.concurrency = 1;

        // S3 locations: errors beside the results, the same object twice refused.
        let results: Location = "s3://bucket/run/results.jsonl".parse().unwrap();
        config.target = Target::Results(results.clone());
        assert!(config.uses_s3());
        assert_eq!(
            config.errors_location().to_string(),
            "s3://bucket/run/results.jsonl.errors.jsonl"
        );
        assert!(config.validate().is_ok());
        config.input = results;
        assert!(config.validate().is_err());

        // A {shard} placeholder left unfilled is refused with the flag that fills it.
        config.input = "in.jsonl".into();
        config.target = Target::Results("s3://bucket/results-{shard}.jsonl".parse().unwrap());
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("--shard"), "{err}");
    }
}
