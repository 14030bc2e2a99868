//! The end-of-job summary: printed as text, optionally written as JSON (`--summary-json`).

use std::fmt::Write as _;

use promptops_runtime::Version;
use serde::Serialize;

use crate::progress::{human_duration, rate, thousands};

/// What a job did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `invoke` (calls a model) or `export-bedrock` (writes a batch inference input file).
    pub mode: &'static str,
    /// The prompt's id.
    pub prompt_id: &'static str,
    /// The prompt's version.
    pub prompt_version: Version,
    /// The Bedrock model id the calls name (the local model answers for any id).
    pub model_id: String,
    /// The model backend (`local`, `bedrock-converse`, `bedrock-invoke`; `none` for exports).
    pub backend: &'static str,
    /// The shard, `i/n`.
    pub shard: String,
    /// Calls in flight at most.
    pub concurrency: usize,
    /// The input file.
    pub input: String,
    /// The results (or export) file.
    pub output: String,
    /// The errors file.
    pub errors: String,
    /// Lines read from the input (all shards, blank lines included).
    pub lines: u64,
    /// This shard's records: `succeeded + failed + skipped`.
    pub records: u64,
    /// Records with a result (exports: records written to the export file).
    pub succeeded: u64,
    /// Records and unreadable lines written to the errors file.
    pub failed: u64,
    /// Records skipped because the results file already had them (resume).
    pub skipped: u64,
    /// Records left to other shards.
    pub other_shards: u64,
    /// Bytes of an incomplete last results line cut off before resuming.
    pub truncated_bytes: u64,
    /// Wall time of the job in seconds.
    pub elapsed_s: f64,
    /// `(succeeded + failed) / elapsed_s`: records actually processed per second.
    pub throughput_rps: f64,
    /// Input tokens of this run's calls.
    pub input_tokens: u64,
    /// Output tokens of this run's calls.
    pub output_tokens: u64,
    /// Cost of this run's calls in USD (where known).
    pub cost_usd: f64,
    /// Whether the job was stopped (Ctrl-C or a write error) before the input's end.
    pub interrupted: bool,
    /// For exports: the commands that submit the file to Bedrock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_steps: Option<String>,
}

impl Summary {
    /// The process exit code: 0 when every record has a result (or was skipped), 1 when some
    /// ended in the errors file, 130 when interrupted.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }

    /// The human-readable summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let export = self.mode == "export-bedrock";
        let how = if export {
            "Bedrock batch export (no model calls)".to_owned()
        } else {
            format!("{} model, concurrency {}", self.backend, self.concurrency)
        };
        let shard = if self.shard == "0/1" {
            String::new()
        } else {
            format!(", shard {}", self.shard)
        };
        let _ = writeln!(
            out,
            "promptops-batch: {} v{} ({}) · {how}{shard}",
            self.prompt_id, self.prompt_version, self.model_id
        );
        let row = |out: &mut String, name: &str, value: String| {
            let _ = writeln!(out, "  {name:<11} {value}");
        };
        let lines = if self.other_shards > 0 {
            format!(
                "  ({} lines, {} for other shards)",
                thousands(self.lines),
                thousands(self.other_shards)
            )
        } else {
            format!("  ({} lines)", thousands(self.lines))
        };
        row(
            &mut out,
            "records",
            format!("{:>9}{lines}", thousands(self.records)),
        );
        let succeeded = if export { "exported" } else { "succeeded" };
        row(
            &mut out,
            succeeded,
            format!("{:>9}", thousands(self.succeeded)),
        );
        row(&mut out, "failed", format!("{:>9}", thousands(self.failed)));
        let skipped = if self.skipped > 0 {
            format!(
                "{:>9}  (already in {})",
                thousands(self.skipped),
                self.output
            )
        } else {
            format!("{:>9}", 0)
        };
        if !export {
            row(&mut out, "skipped", skipped);
        }
        row(
            &mut out,
            "throughput",
            format!("{:>9} rec/s", rate(self.throughput_rps)),
        );
        row(
            &mut out,
            "elapsed",
            format!("{:>9}", human_duration(self.elapsed_s)),
        );
        if !export {
            row(
                &mut out,
                "tokens",
                format!(
                    "{:>9} in / {} out",
                    thousands(self.input_tokens),
                    thousands(self.output_tokens)
                ),
            );
            row(
                &mut out,
                "cost",
                format!("{:>9}", format!("${:.6}", self.cost_usd)),
            );
        }
        row(
            &mut out,
            if export { "export" } else { "results" },
            self.output.clone(),
        );
        row(&mut out, "errors", self.errors.clone());
        if self.truncated_bytes > 0 {
            let _ = writeln!(
                out,
                "note: cut off an incomplete last line ({} bytes) of {} left by an earlier crash",
                self.truncated_bytes, self.output
            );
        }
        if self.interrupted {
            let _ = writeln!(
                out,
                "interrupted: rerun the same command to resume where this run stopped"
            );
        } else if self.failed > 0 {
            let _ = writeln!(
                out,
                "{} in {}; rerun the same command to retry them",
                plural(self.failed, "record or line", "records or lines"),
                self.errors
            );
        } else if !export && self.records > 0 && self.skipped == self.records {
            let _ = writeln!(
                out,
                "nothing to do: all {} already done (pass --fresh to start over)",
                plural(self.skipped, "record is", "records are")
            );
        }
        if let Some(steps) = &self.next_steps {
            out.push('\n');
            out.push_str(steps);
        }
        out
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            mode: "invoke",
            prompt_id: "customer-support.intent-classifier",
            prompt_version: Version::new(3),
            model_id: "m".into(),
            backend: "local",
            shard: "0/1".into(),
            concurrency: 16,
            input: "in.jsonl".into(),
            output: "out.jsonl".into(),
            errors: "out.jsonl.errors.jsonl".into(),
            lines: 200,
            records: 200,
            succeeded: 0,
            failed: 0,
            skipped: 200,
            other_shards: 0,
            truncated_bytes: 0,
            elapsed_s: 0.01,
            throughput_rps: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: 0.0,
            interrupted: false,
            next_steps: None,
        }
    }

    #[test]
    fn rerun_says_nothing_to_do_and_exit_codes_follow_failures() {
        let done = summary();
        assert!(done
            .text()
            .contains("nothing to do: all 200 records are already done"));
        assert!(done.text().contains("(already in out.jsonl)"));
        assert_eq!(done.exit_code(), 0);
        let failed = Summary {
            failed: 2,
            skipped: 0,
            succeeded: 198,
            ..summary()
        };
        assert!(failed
            .text()
            .contains("2 records or lines in out.jsonl.errors.jsonl"));
        assert_eq!(failed.exit_code(), 1);
        assert_eq!(
            Summary {
                interrupted: true,
                ..summary()
            }
            .exit_code(),
            130
        );
        let json = serde_json::to_value(summary()).unwrap();
        assert_eq!(json["skipped"], 200);
        assert!(json.get("next_steps").is_none());
    }
}
