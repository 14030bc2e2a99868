//! The render stage: find the prompt, check the config's variables against its contract, and
//! render it with strict undefined.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use lru::LruCache;
use minijinja::{Environment, UndefinedBehavior};
use promptops_core::{PromptDef, Status, TemplateLimits, Value, VarDef, VarType, Version};
use promptops_runtime::render::render_def;
use promptops_runtime::{DefRef, DynVars, Rendered};

use crate::config::{PromptConfig, Source};
use crate::env::Env;
use crate::error::{error_chain, Stage, StageError};

/// The owner recorded for prompts that come from S3 templates.
pub const TEMPLATE_OWNER: &str = "prompt_templates";

/// The compiled-in prompt `id`, as a deployment for `env` may run it: a prod deployment refuses
/// drafts (its production build of the prompts crate does not even contain them).
pub fn compiled_prompt(id: &str, env: Env) -> Result<&'static PromptDef, StageError> {
    let Some(def) = prompts::get(id) else {
        return Err(StageError::new(
            Stage::Render,
            format!(
                "no compiled-in prompt `{id}` in this {} build of the prompts crate{}",
                prompts::ENVIRONMENT,
                if prompts::ENVIRONMENT == "production" {
                    " (draft prompts are left out of production builds)"
                } else {
                    ""
                }
            ),
        ));
    };
    if env == Env::Prod && def.status == Status::Draft {
        return Err(StageError::new(
            Stage::Render,
            format!(
                "prompt `{id}` v{} is a draft; a prod deployment runs only stable prompts",
                def.version
            ),
        ));
    }
    Ok(def)
}

/// Most S3 template definitions kept between inputs.
pub const MAX_CACHED_TEMPLATES: usize = 64;
/// Most S3 template text, in bytes, kept between inputs.
pub const MAX_CACHED_TEMPLATE_BYTES: usize = 8 * 1024 * 1024;

/// Definitions made from S3 templates, by file name and content hash, so the inputs of one
/// template share one definition. A warm Lambda meets any number of distinct templates, so the
/// cache is bounded by count and by bytes, least recently used first out; an evicted
/// definition is freed once the last input rendering it is done (and the runtime's cache of
/// compiled templates is bounded the same way).
struct TemplateCache {
    definitions: LruCache<(String, String), Arc<PromptDef>>,
    bytes: usize,
}

static TEMPLATES: LazyLock<Mutex<TemplateCache>> = LazyLock::new(|| {
    Mutex::new(TemplateCache {
        definitions: LruCache::unbounded(),
        bytes: 0,
    })
});

fn templates() -> std::sync::MutexGuard<'static, TemplateCache> {
    TEMPLATES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TemplateCache {
    fn insert(&mut self, key: (String, String), def: Arc<PromptDef>) {
        let bytes = def.template.len();
        if let Some(old) = self.definitions.put(key, def) {
            self.bytes -= old.template.len();
        }
        self.bytes += bytes;
        while self.definitions.len() > MAX_CACHED_TEMPLATES
            || (self.bytes > MAX_CACHED_TEMPLATE_BYTES && self.definitions.len() > 1)
        {
            match self.definitions.pop_lru() {
                Some((_, evicted)) => self.bytes -= evicted.template.len(),
                None => break,
            }
        }
    }
}

/// How many S3 template definitions are cached, and their text's total size.
pub fn cached_templates() -> (usize, usize) {
    let cache = templates();
    (cache.definitions.len(), cache.bytes)
}

/// Compiles an S3 template (minijinja, strict undefined) and returns its definition. Its
/// contract is inferred, as for prompt files without `variables`: every variable the template
/// uses is a required string.
pub fn template_prompt(name: &str, text: &str) -> Result<Arc<PromptDef>, StageError> {
    let hash = promptops_core::hash::content_hash(text.as_bytes());
    let key = (name.to_owned(), hash.clone());
    if let Some(def) = templates().definitions.get(&key) {
        return Ok(Arc::clone(def));
    }
    // Bounded before minijinja sees it: a long filter or operator chain would overflow the
    // stack while compiling and abort the process, with every other record of the event.
    TemplateLimits::default()
        .check(text)
        .map_err(|err| StageError::new(Stage::Render, format!("template {name}: {err}")))?;
    // Compiled outside the cache's lock, so other inputs are not held up by a big template.
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let template = env
        .template_from_str(text)
        .map_err(|err| StageError::new(Stage::Render, format!("template {name}: {err}")))?;
    // The same inference as the build script's, engine globals (`range`, ...) left out.
    let used = promptops_core::builtins::template_variables(template.undeclared_variables(false));
    let mut def = PromptDef::new(
        format!("{}{name}", crate::env::TEMPLATE_PREFIX),
        Version::new(1),
        TEMPLATE_OWNER,
        "",
        text,
    );
    def.variables = used
        .into_iter()
        .map(|var| VarDef::required(var, VarType::String))
        .collect();
    def.content_hash = hash;
    def.source_path = Some(format!("{}{name}", crate::env::TEMPLATE_PREFIX));
    def.refresh_contract_hash();
    let def = Arc::new(def);
    templates().insert(key, Arc::clone(&def));
    Ok(def)
}

/// Checks the config's variables against `def`'s contract: every name declared, every value
/// of the declared type, every required variable without a default present.
pub fn check_variables(
    def: &PromptDef,
    variables: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, Value)>, StageError> {
    let declared = || {
        def.variables
            .iter()
            .map(|var| var.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut problems = Vec::new();
    let mut values = Vec::new();
    for (name, json) in variables {
        let Some(var) = def.variable(name) else {
            problems.push(format!(
                "unknown variable `{name}` (declared: {})",
                declared()
            ));
            continue;
        };
        match serde_json::from_value::<Value>(json.clone()) {
            Ok(value) if value.fits(var.ty) => values.push((name.clone(), value)),
            _ => problems.push(format!(
                "variable `{name}` is declared as {} but the config gives {}",
                var.ty.as_str(),
                json_kind(json)
            )),
        }
    }
    for var in &def.variables {
        if var.required && var.default.is_none() && !variables.contains_key(&var.name) {
            problems.push(format!(
                "missing required variable `{}` ({})",
                var.name,
                var.ty.as_str()
            ));
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(StageError::new(
            Stage::Render,
            format!("{} v{}: {}", def.id, def.version, problems.join("; ")),
        ))
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(n) if n.is_i64() => "an integer",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list (of strings only, if a list)",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Renders `def` with checked `values`.
pub fn render_checked(def: DefRef, values: &[(String, Value)]) -> Result<Rendered, StageError> {
    let vars = DynVars::from_owned(
        &def,
        values.iter().map(|(name, value)| (name.as_str(), value)),
    )
    .map_err(|err| StageError::new(Stage::Render, error_chain(&err)))?;
    render_def(def.clone(), &vars).map_err(|err| StageError::new(Stage::Render, error_chain(&err)))
}

/// The whole render stage for a config: `template_text` is the S3 template's text when the
/// config names one (the caller reads it from `prompt_templates/`).
pub fn render_config(
    config: &PromptConfig,
    template_text: Option<&str>,
    env: Env,
) -> Result<Rendered, StageError> {
    let def = match config.source()? {
        Source::Prompt(id) => DefRef::Static(compiled_prompt(id, env)?),
        Source::Template(name) => {
            let text = template_text.ok_or_else(|| {
                StageError::new(Stage::Render, format!("template {name} was not read"))
            })?;
            DefRef::Shared(template_prompt(name, text)?)
        }
    };
    let values = check_variables(&def, &config.variables)?;
    render_checked(def, &values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutputFormat;

    fn config(
        prompt: Option<&str>,
        template: Option<&str>,
        variables: serde_json::Value,
    ) -> PromptConfig {
        PromptConfig {
            prompt: prompt.map(str::to_owned),
            template: template.map(str::to_owned),
            variables: serde_json::from_value(variables).unwrap(),
            output_format: OutputFormat::Md,
            output_slug: None,
            max_tokens: None,
            model_id: None,
        }
    }

    #[test]
    fn the_sample_prompt_substitutes_every_variable() {
        let rendered = render_config(
            &config(
                Some("marketing.welcome-email"),
                None,
                serde_json::json!({"customer_name": "Ada", "product": "Acme Cloud", "tone": "warm"}),
            ),
            None,
            Env::Beta,
        )
        .unwrap();
        assert!(
            rendered.user.contains("Ada") && rendered.user.contains("Acme Cloud"),
            "{}",
            rendered.user
        );
        assert!(!rendered.user.contains("{{"), "{}", rendered.user);
    }

    #[test]
    fn unknown_mistyped_and_missing_variables_are_render_errors() {
        let cases = [
            serde_json::json!({"customer_name": "Ada", "product": "P", "colour": "red"}),
            serde_json::json!({"customer_name": 7, "product": "P"}),
            serde_json::json!({"product": "P"}),
        ];
        for variables in cases {
            let err = render_config(
                &config(Some("marketing.welcome-email"), None, variables.clone()),
                None,
                Env::Beta,
            )
            .unwrap_err();
            assert_eq!(err.stage, Stage::Render, "{variables}: {}", err.message);
        }
    }

    #[test]
    fn s3_templates_are_strict() {
        let text = "Hello {{ name }}, welcome to {{ product }}!";
        let ok = render_config(
            &config(
                None,
                Some("welcome.txt"),
                serde_json::json!({"name": "Ada", "product": "Acme"}),
            ),
            Some(text),
            Env::Beta,
        )
        .unwrap();
        assert_eq!(ok.user, "Hello Ada, welcome to Acme!");
        let missing = render_config(
            &config(
                None,
                Some("welcome.txt"),
                serde_json::json!({"name": "Ada"}),
            ),
            Some(text),
            Env::Beta,
        );
        assert!(missing
            .unwrap_err()
            .message
            .contains("missing required variable `product`"));
        let unknown = render_config(
            &config(
                None,
                Some("welcome.txt"),
                serde_json::json!({"name": "Ada", "product": "A", "x": "y"}),
            ),
            Some(text),
            Env::Beta,
        );
        assert!(unknown
            .unwrap_err()
            .message
            .contains("unknown variable `x`"));
        let broken = render_config(
            &config(None, Some("bad.txt"), serde_json::json!({})),
            Some("{{ oops"),
            Env::Beta,
        );
        assert_eq!(broken.unwrap_err().stage, Stage::Render);
        // The same text interns to the same definition.
        assert!(Arc::ptr_eq(
            &template_prompt("welcome.txt", text).unwrap(),
            &template_prompt("welcome.txt", text).unwrap()
        ));
    }

    #[test]
    fn engine_names_are_not_template_variables() {
        // `range` and `namespace` are minijinja's; `loop` is the for loop's own. Only `name` is
        // the config's to supply, as the build script would infer for a prompt file.
        let text = "{% set ns = namespace(n=0) %}{% for i in range(2) %}{{ loop.index }}{{ name }}{% endfor %}";
        let def = template_prompt("builtins.txt", text).expect("compiles");
        let names: Vec<&str> = def.variables.iter().map(|var| var.name.as_str()).collect();
        assert_eq!(names, ["name"]);
        let ok = render_config(
            &config(None, Some("builtins.txt"), serde_json::json!({"name": "x"})),
            Some(text),
            Env::Beta,
        )
        .expect("renders without range or namespace in the config");
        assert_eq!(ok.user, "1x2x");
    }

    #[test]
    fn the_template_cache_is_bounded_and_frees_what_it_evicts() {
        let first = template_prompt("evicted.txt", "first {{ a }}").expect("compiles");
        let first_weak = Arc::downgrade(&first);
        drop(first);
        // 45 big templates pass the byte budget; the small ones after them, the count.
        let big = "x".repeat(200 * 1024);
        for n in 0..MAX_CACHED_TEMPLATES + 45 {
            let text = if n < 45 {
                format!("{big}{n}")
            } else {
                format!("t{n}")
            };
            let def = template_prompt(&format!("t{n}.txt"), &text).expect("compiles");
            let (count, bytes) = cached_templates();
            assert!(count <= MAX_CACHED_TEMPLATES, "{count}");
            // Only the definition just added may exceed the byte budget on its own.
            assert!(
                bytes <= MAX_CACHED_TEMPLATE_BYTES.max(def.template.len()),
                "{bytes}"
            );
        }
        assert!(
            first_weak.upgrade().is_none(),
            "the evicted definition is freed"
        );
    }

    #[test]
    fn values_are_data_not_template_code() {
        let rendered = render_config(
            &config(
                None,
                Some("echo.txt"),
                serde_json::json!({"name": "{{ secret }}<script>"}),
            ),
            Some("Hi {{ name }}"),
            Env::Beta,
        )
        .unwrap();
        assert_eq!(rendered.user, "Hi {{ secret }}<script>");
    }

    #[test]
    fn prod_refuses_drafts_with_a_clear_error() {
        let draft = prompts::ALL
            .defs()
            .iter()
            .find(|def| def.status == Status::Draft);
        if let Some(draft) = draft {
            let err = compiled_prompt(&draft.id, Env::Prod).unwrap_err();
            assert!(err.message.contains("draft"), "{}", err.message);
            assert!(compiled_prompt(&draft.id, Env::Beta).is_ok());
        } else {
            assert_eq!(prompts::ENVIRONMENT, "production");
        }
        assert!(compiled_prompt("no.such-prompt", Env::Beta)
            .unwrap_err()
            .message
            .contains("no compiled-in prompt"));
    }
}
