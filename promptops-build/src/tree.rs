//! Whole-tree validation over files already in memory, so every rule is unit-testable without
//! touching the filesystem or running a compiler.

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic, SourceText};
use crate::eval::{self, Suite, SuiteContext};
use crate::models::ModelTable;
use crate::naming;
use crate::schema::{self, FileIdentity, ParseContext, Prompt};
use crate::template::TemplateChecker;
use crate::yaml;

/// One prompt file as discovery found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the prompts root, `/`-separated, with extension.
    pub path: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl SourceFile {
    /// A file from a path and its text (handy in tests).
    pub fn new(path: impl Into<String>, text: impl Into<Vec<u8>>) -> Self {
        SourceFile {
            path: path.into(),
            bytes: text.into(),
        }
    }
}

/// A prompt tree to validate.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Prepended to every path in diagnostics (e.g. `prompts/`).
    pub display_prefix: String,
    /// Prompt files, any order.
    pub files: Vec<SourceFile>,
    /// Eval suites (`*.eval.yaml`), any order.
    pub eval_suites: Vec<SourceFile>,
    /// Contents of the tree's `models.yaml`, if it has one.
    pub model_table: Option<SourceFile>,
    /// Problems discovery already found (unreadable files, symlinks leaving the tree).
    pub discovery_problems: Vec<Diagnostic>,
}

/// The result of validating a [`Tree`].
#[derive(Debug, Clone)]
pub struct Validated {
    /// Valid prompts, sorted by id. Only meaningful when `diagnostics` is empty.
    pub prompts: Vec<Prompt>,
    /// Valid eval suites, sorted by path.
    pub suites: Vec<Suite>,
    /// Every problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Validated {
    /// Whether the tree is free of problems.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// Validates every file and the tree as a whole; never stops at the first problem.
pub fn validate(tree: &Tree) -> Validated {
    let mut diagnostics = tree.discovery_problems.clone();
    let mut models = ModelTable::builtin();
    if let Some(table) = &tree.model_table {
        let display = format!("{}{}", tree.display_prefix, table.path);
        match std::str::from_utf8(&table.bytes) {
            Ok(text) => diagnostics.extend(models.merge(&SourceText::new(&display, text))),
            Err(_) => diagnostics.push(Diagnostic::file_level(
                Code::NotUtf8,
                display,
                "the model table is not valid UTF-8",
            )),
        }
    }
    let templates = TemplateChecker::new();
    let context = ParseContext {
        models: &models,
        templates: &templates,
    };

    let mut prompts = Vec::with_capacity(tree.files.len());
    for file in &tree.files {
        if let Some(prompt) = validate_file(tree, file, &context, &mut diagnostics) {
            prompts.push(prompt);
        }
    }
    check_tree(&mut prompts, &mut diagnostics);
    let suites = validate_suites(tree, &prompts, &mut diagnostics);
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Validated {
        prompts,
        suites,
        diagnostics,
    }
}

fn validate_suites(
    tree: &Tree,
    prompts: &[Prompt],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Suite> {
    let prompt_stems = tree
        .files
        .iter()
        .map(|file| stem(&file.path).to_owned())
        .collect();
    let mut suites = Vec::with_capacity(tree.eval_suites.len());
    for file in &tree.eval_suites {
        let display = format!("{}{}", tree.display_prefix, file.path);
        let Some((text, root)) = load_document(&display, file, FileKind::EvalSuite, diagnostics)
        else {
            continue;
        };
        let source = SourceText::new(&display, text);
        let context = SuiteContext {
            source_path: &file.path,
            prompts,
            prompt_stems: &prompt_stems,
        };
        suites.extend(eval::parse_suite(&source, &root, &context, diagnostics));
    }
    suites.sort_by(|a, b| a.source_path.cmp(&b.source_path));
    suites
}

/// A prompt file's path without its extension.
fn stem(path: &str) -> &str {
    path.strip_suffix(".yaml")
        .or_else(|| path.strip_suffix(".yml"))
        .unwrap_or(path)
}

fn validate_file(
    tree: &Tree,
    file: &SourceFile,
    context: &ParseContext<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Prompt> {
    let display = format!("{}{}", tree.display_prefix, file.path);
    let (text, root) = load_document(&display, file, FileKind::Prompt, diagnostics)?;
    let source = SourceText::new(&display, text);
    let identity = FileIdentity {
        stem: stem(&file.path),
        source_path: &file.path,
        content_hash: promptops_core::hash::content_hash(&file.bytes),
    };
    schema::parse_prompt(&source, &root, &identity, context, diagnostics)
}

/// The two kinds of YAML file in a prompt tree, for the wording of shared diagnostics.
#[derive(Clone, Copy)]
enum FileKind {
    Prompt,
    EvalSuite,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            FileKind::Prompt => "prompt file",
            FileKind::EvalSuite => "eval suite",
        }
    }

    fn with_article(self) -> &'static str {
        match self {
            FileKind::Prompt => "a prompt file",
            FileKind::EvalSuite => "an eval suite",
        }
    }

    fn fill_in(self) -> &'static str {
        match self {
            FileKind::Prompt => "add the prompt's fields, or delete the file",
            FileKind::EvalSuite => "add `prompt_id:` and `cases:`, or delete the file",
        }
    }

    fn one_per_file(self) -> &'static str {
        match self {
            FileKind::Prompt => "put each prompt in its own file",
            FileKind::EvalSuite => "put each suite in its own file",
        }
    }
}

/// The checks every YAML file of the tree passes before its schema is looked at: UTF-8, YAML
/// syntax, exactly one non-empty document, no aliases.
fn load_document<'f>(
    display: &str,
    file: &'f SourceFile,
    kind: FileKind,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(&'f str, yaml::Node<'f>)> {
    let what = kind.name();
    let Ok(text) = std::str::from_utf8(&file.bytes) else {
        let valid_up_to = std::str::from_utf8(&file.bytes)
            .err()
            .map_or(0, |err| err.valid_up_to());
        diagnostics.push(
            Diagnostic::file_level(Code::NotUtf8, display, format!("{what} is not valid UTF-8"))
                .with_note(format!("the first invalid byte is at offset {valid_up_to}"))
                .with_help("save the file as UTF-8"),
        );
        return None;
    };
    // Indexed only to report a problem; the schema's checks index the text themselves.
    let source = || SourceText::new(display, text);
    let documents = match yaml::parse(text) {
        Ok(documents) => documents,
        Err(err) => {
            diagnostics.push(
                source()
                    .at_pos(
                        Code::YamlSyntax,
                        err.pos,
                        1,
                        format!("invalid YAML: {}", err.message),
                    )
                    .with_label("here"),
            );
            return None;
        }
    };
    let mut documents = documents.into_iter();
    let root = match (documents.next(), documents.next()) {
        (None, _) => None,
        (Some(only), None) if only.is_null() => None,
        (Some(only), None) => Some(only),
        (Some(_), Some(second)) => {
            diagnostics.push(
                source()
                    .at(
                        Code::NotAMapping,
                        second.region,
                        format!(
                            "{} must hold exactly one YAML document",
                            kind.with_article()
                        ),
                    )
                    .with_label("second document")
                    .with_help(kind.one_per_file()),
            );
            return None;
        }
    };
    let Some(root) = root else {
        diagnostics.push(
            Diagnostic::file_level(Code::EmptyFile, display, format!("{what} is empty"))
                .with_help(kind.fill_in()),
        );
        return None;
    };
    if let Some(alias) = find_alias(&root) {
        diagnostics.push(
            source()
                .at(
                    Code::Alias,
                    alias,
                    format!("YAML aliases are not supported in {what}s"),
                )
                .with_help(
                    "write the value out in full: prompt files are meant to be read as they are",
                ),
        );
        return None;
    }
    Some((text, root))
}

fn find_alias(node: &yaml::Node<'_>) -> Option<yaml::Region> {
    match &node.kind {
        yaml::NodeKind::Alias => Some(node.region),
        yaml::NodeKind::Scalar { .. } => None,
        yaml::NodeKind::Seq(items) => items.iter().find_map(find_alias),
        yaml::NodeKind::Map(entries) => entries
            .iter()
            .find_map(|(key, value)| find_alias(key).or_else(|| find_alias(value))),
    }
}

/// Duplicate ids and names that collide with the generated crate's own items.
fn check_tree(prompts: &mut Vec<Prompt>, diagnostics: &mut Vec<Diagnostic>) {
    prompts.sort_by(|a, b| {
        a.def
            .id
            .cmp(&b.def.id)
            .then_with(|| a.source_path().cmp(b.source_path()))
    });
    let mut first_by_id: BTreeMap<&str, &Prompt> = BTreeMap::new();
    let mut rejected = BTreeSet::new();
    for prompt in prompts.iter() {
        if let Some(first) = first_by_id.get(prompt.def.id.as_str()) {
            diagnostics.push(
                located(
                    prompt,
                    Code::DuplicateId,
                    format!("prompt id `{}` is declared twice", prompt.def.id),
                )
                .with_label("second declaration")
                .with_note(format!(
                    "first declared in {}:{}",
                    first.display_path, first.id_location.pos.line
                ))
                .with_help(
                    "keep one file per id: `.yaml` and `.yml` files with the same name clash",
                ),
            );
            rejected.insert(prompt.source_path().to_owned());
            continue;
        }
        first_by_id.insert(&prompt.def.id, prompt);
        if !prompt.def.id.contains('.')
            && naming::RESERVED_ROOT_NAMES.contains(&prompt.def.id.as_str())
        {
            diagnostics.push(
                located(
                    prompt,
                    Code::RustNameCollision,
                    format!(
                        "top-level prompt `{}` would collide with the generated `{}` function",
                        prompt.def.id, prompt.def.id
                    ),
                )
                .with_help("move the prompt under a domain, e.g. `general.get`"),
            );
        }
    }
    prompts.retain(|p| !rejected.contains(p.source_path()));
}

fn located(prompt: &Prompt, code: Code, message: String) -> Diagnostic {
    Diagnostic {
        code,
        message,
        file: prompt.display_path.clone(),
        location: prompt.id_location.clone(),
        label: None,
        help: None,
        notes: Vec::new(),
    }
}
