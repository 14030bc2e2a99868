//! Renders hostile templates through the runtime's renderer and prints one line per bomb: the
//! outcome and the time it took. `bench/hostile/render_bombs.sh` runs it under `prlimit` and
//! `/usr/bin/time`, once with the default render limits and once with the limits lifted, which
//! is how the runtime rendered before it had them.
//!
//! ```sh
//! cargo run -p promptops-runtime --example render_bombs -- loops
//! ```

use std::sync::Arc;
use std::time::Instant;

use promptops_runtime::render::render_def;
use promptops_runtime::{DefRef, NoVars, PromptDef, Version};

fn bomb(name: &str) -> Option<String> {
    Some(match name {
        // 10^10 iterations of a one-byte output.
        "loops" => {
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
                .to_owned()
        }
        // 40 doublings of 8 bytes: 8 TiB.
        "doubling" => format!(
            "{{% set x = 'aaaaaaaa' %}}{}{{{{ x }}}}",
            "{% set x = x ~ x %}".repeat(40)
        ),
        // A 5,000-link filter chain: overflows minijinja's compiler without the template limits.
        "chain" => format!("{{{{ 'a'{} }}}}", "|upper".repeat(5_000)),
        // 64 MB of output from one expression.
        "wide" => "{{ 'x' * 64000000 }}".to_owned(),
        _ => return None,
    })
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(template) = bomb(&name) else {
        eprintln!("usage: render_bombs loops|doubling|chain|wide");
        std::process::exit(2);
    };
    let def = DefRef::Shared(Arc::new(PromptDef::new(
        format!("bombs.{name}"),
        Version::new(1),
        "bench",
        "local",
        template,
    )));
    let started = Instant::now();
    let outcome = match render_def(def, &NoVars) {
        Ok(rendered) => format!("rendered {} bytes", rendered.user.len()),
        Err(err) => format!("refused: {} ({err})", err.kind.as_str()),
    };
    println!(
        "{name}: {outcome} in {:.3} s",
        started.elapsed().as_secs_f64()
    );
}
