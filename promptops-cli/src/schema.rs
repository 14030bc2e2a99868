//! `schema`: the JSON Schemas of prompt files and eval suites, printed or written to a directory.

use std::path::PathBuf;

use promptops_build::json_schema::SchemaKind;

use crate::Outcome;

/// Arguments of `promptops schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum, default_value_t = Kind::Prompt)]
    kind: Kind,
    /// Write both schemas (`prompt.schema.json`, `eval-suite.schema.json`) into this directory
    /// instead of printing one.
    #[arg(long, value_name = "DIR", conflicts_with = "kind")]
    out: Option<PathBuf>,
}

/// The schemas on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    /// Prompt files (`prompts/<domain>/<name>.yaml`).
    Prompt,
    /// Eval suites (`*.eval.yaml`).
    EvalSuite,
}

impl Kind {
    fn schema_kind(self) -> SchemaKind {
        match self {
            Kind::Prompt => SchemaKind::Prompt,
            Kind::EvalSuite => SchemaKind::EvalSuite,
        }
    }
}

/// Prints one schema, or writes both with `--out`.
pub fn run(args: &SchemaArgs) -> Outcome {
    let Some(dir) = &args.out else {
        return match args.kind.schema_kind().render() {
            Ok(text) => Outcome::ok(text),
            Err(err) => Outcome::fail(format!("error: cannot render the schema: {err}\n"), 2),
        };
    };
    if let Err(err) = std::fs::create_dir_all(dir) {
        return Outcome::fail(
            format!("error: cannot create {}: {err}\n", dir.display()),
            2,
        );
    }
    let mut written = String::new();
    for kind in SchemaKind::ALL {
        let path = dir.join(kind.file_name());
        let result = kind
            .render()
            .map_err(|err| err.to_string())
            .and_then(|text| std::fs::write(&path, text).map_err(|err| err.to_string()));
        if let Err(err) = result {
            return Outcome::fail(
                format!("error: cannot write {}: {err}\n", path.display()),
                2,
            );
        }
        written.push_str(&format!("wrote {}\n", path.display()));
    }
    Outcome::ok(written)
}
