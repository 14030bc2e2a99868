#!/usr/bin/env python3
"""The seed's Python prompt path, measured on the same operations as the Rust runtime bench.

Reproduces `promptops_core.registry.load_prompt` and `observability.log_prompt_event` from the
seed article (seeds/002, sections 2 and 5): every call reads the YAML file and parses it with
`yaml.safe_load`. Operations, matching `cargo bench -p promptops-runtime --bench runtime`:

  intent classifier      load_prompt (the template is used as is; the seed renders nothing)
  2 KB templated prompt  load_prompt + jinja2 compile + render (no cache in the seed), and,
                         for reference, render with a template compiled once
  lookup by id           load_prompt over a tree of 1,000 prompt files, and a dict lookup
  event emission         log_prompt_event twice (invoked + completed) to /dev/null

Needs PyYAML and Jinja2:  python3 -m pip install pyyaml jinja2
Run:                      python3 bench/python_load_prompt.py
Prints medians of 7 timing runs, in microseconds per call.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import yaml
except ImportError:  # pragma: no cover - guidance only
    sys.exit("PyYAML is missing: python3 -m pip install pyyaml")
try:
    import jinja2
except ImportError:  # pragma: no cover - guidance only
    sys.exit("Jinja2 is missing: python3 -m pip install jinja2")

HERE = Path(__file__).resolve().parent

# --- seeds/002 section 1: the prompt file, verbatim -------------------------------------------
INTENT_YAML = """\
id: customer-support.intent-classifier
version: 2
owner: data-platform-team
model: claude-3-5-sonnet
parent: 1
tags:
  - classification
  - customer-support
metrics:
  baseline_accuracy: 0.94
  cost_per_call_usd: 0.003
template: |
  You are a customer support intent classifier.
  Given the user message and the previous conversation context,
  classify the intent into exactly one of:
  - billing      (questions about charges, invoices, refunds)
  - technical    (product not working, errors, bugs)
  - sales        (pricing, plans, upgrades, new accounts)
  - retention    (cancellation, downgrade, dissatisfaction)
  - other        (anything that doesn't fit above)
  Respond with only the single category label, lowercase, no
  punctuation or explanation.
created: 2026-04-15
updated: 2026-05-01
"""


# --- seeds/002 section 2: the registry, verbatim (PROMPTS_DIR set below) ----------------------
@dataclass(frozen=True)
class Prompt:
    id: str
    version: int
    owner: str
    model: str
    template: str
    tags: tuple[str, ...] = ()
    parent: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


PROMPTS_DIR = Path()


def _id_to_path(prompt_id: str) -> Path:
    # The article does not show it; ids map to paths as in DESIGN.md section 2.
    *dirs, name = prompt_id.split(".")
    parts = [part.replace("-", "_") for part in dirs] + [name.replace("-", "_") + ".yaml"]
    return PROMPTS_DIR.joinpath(*parts)


def load_prompt(prompt_id: str) -> Prompt:
    path = _id_to_path(prompt_id)
    if not path.exists():
        raise FileNotFoundError(f"Prompt '{prompt_id}' not registered")

    data = yaml.safe_load(path.read_text())
    return Prompt(
        id=data["id"],
        version=data["version"],
        owner=data["owner"],
        model=data["model"],
        template=data["template"],
        tags=tuple(data.get("tags", [])),
        parent=data.get("parent"),
        metrics=dict(data.get("metrics", {})),
    )


# --- seeds/002 section 5: observability, verbatim ---------------------------------------------
EVENT_INVOKED = "prompt_invoked"
EVENT_COMPLETED = "prompt_completed"
EVENT_FAILED = "prompt_failed"


def log_prompt_event(event_type, prompt, **extra):
    payload = {
        "event": event_type,
        "prompt_id": prompt.id,
        "prompt_version": prompt.version,
        "prompt_owner": prompt.owner,
        "prompt_model": prompt.model,
    }
    payload.update(extra)
    print(json.dumps(payload), file=sys.stdout)


# --- fixtures ---------------------------------------------------------------------------------
TICKET_VARS = dict(
    company="ACME Analytics",
    ticket_id="T-2026-04471",
    priority=1,
    opened_at="2026-05-01T09:12:00Z",
    customer_name="Grace Hopper",
    plan="enterprise",
    customer_since="2019",
    vip=True,
    history=[
        "2026-05-01 09:12 customer: dashboards show no data since the 04:00 deploy",
        "2026-05-01 09:30 support: asked for the workspace id and a screenshot",
        "2026-05-01 10:02 customer: workspace ws-4471, screenshot attached, still empty",
        "2026-05-01 10:15 support: suggested clearing the cache and re-running the import",
        "2026-05-01 11:40 customer: cache cleared, import re-run, nothing changed",
    ],
    message="Our board meeting is at 15:00 and every revenue dashboard is still empty. "
    "Request id 7f3e-91aa. Please escalate.",
    max_words=200,
    language="English",
)


def write_tree(root: Path) -> list[str]:
    """The two benchmark prompts plus 1,000 small ones; returns the 1,000 ids."""
    support = root / "customer_support"
    support.mkdir(parents=True)
    (support / "intent_classifier.yaml").write_text(INTENT_YAML)
    template = (HERE / "fixtures" / "ticket_summary.j2").read_text()
    block = "".join(f"  {line}" if line.strip() else "\n" for line in template.splitlines(True))
    (support / "ticket_summary.yaml").write_text(
        "id: customer-support.ticket-summary\n"
        "version: 1\n"
        "owner: support-team\n"
        "model: claude-3-5-sonnet\n"
        "tags: []\n"
        "template: |\n" + block
    )
    ids = []
    for i in range(1000):
        domain = f"domain-{i % 37:02}"
        name = f"prompt-{i:04}"
        prompt_id = f"{domain}.{name}"
        folder = root / domain.replace("-", "_")
        folder.mkdir(exist_ok=True)
        (folder / (name.replace("-", "_") + ".yaml")).write_text(
            INTENT_YAML.replace("customer-support.intent-classifier", prompt_id)
        )
        ids.append(prompt_id)
    return ids


def median_us(stmt, repeat: int = 7) -> float:
    timer = timeit.Timer(stmt)
    number, _ = timer.autorange()
    runs = timer.repeat(repeat=repeat, number=number)
    return statistics.median(runs) / number * 1e6


def main() -> None:
    global PROMPTS_DIR
    with tempfile.TemporaryDirectory() as tmp:
        PROMPTS_DIR = Path(tmp) / "prompts"
        ids = write_tree(PROMPTS_DIR)

        classifier = load_prompt("customer-support.intent-classifier")
        assert classifier.template.startswith("You are a customer support intent classifier.")
        ticket_source = load_prompt("customer-support.ticket-summary").template
        env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        compiled = env.from_string(ticket_source)
        rendered = compiled.render(**TICKET_VARS)

        def ticket_per_call():
            prompt = load_prompt("customer-support.ticket-summary")
            return env.from_string(prompt.template).render(**TICKET_VARS)

        rng = random.Random(7)
        sample = [rng.choice(ids) for _ in range(997)]
        position = [0]

        def lookup_file():
            position[0] = (position[0] + 1) % len(sample)
            return load_prompt(sample[position[0]])

        registry = {prompt_id: object() for prompt_id in ids}

        def lookup_dict():
            position[0] = (position[0] + 1) % len(sample)
            return registry.get(sample[position[0]])

        def csafe_load():
            path = _id_to_path("customer-support.intent-classifier")
            return yaml.load(path.read_text(), Loader=yaml.CSafeLoader)

        devnull = open("/dev/null", "w")

        def events():
            stdout = sys.stdout
            sys.stdout = devnull
            try:
                log_prompt_event(EVENT_INVOKED, classifier, request_id="req-0001", runtime="bench")
                log_prompt_event(
                    EVENT_COMPLETED,
                    classifier,
                    request_id="req-0001",
                    runtime="bench",
                    latency_ms=412,
                    intent="billing",
                    input_tokens=180,
                    output_tokens=1,
                )
            finally:
                sys.stdout = stdout

        rows = [
            ("intent classifier: load_prompt (safe_load per call)",
             median_us(lambda: load_prompt("customer-support.intent-classifier"))),
            ("intent classifier: same file with CSafeLoader (libyaml; not the seed)",
             median_us(csafe_load)),
            (f"2 KB prompt ({len(rendered)} B): load_prompt + jinja2 compile + render",
             median_us(ticket_per_call)),
            ("2 KB prompt: jinja2 render of a template compiled once",
             median_us(lambda: compiled.render(**TICKET_VARS))),
            ("lookup by id in 1,000 files: load_prompt", median_us(lookup_file)),
            ("lookup by id in 1,000: dict.get (if cached)", median_us(lookup_dict)),
            ("events: log_prompt_event invoked + completed (to /dev/null)", median_us(events)),
        ]
        devnull.close()

    print(f"Python {sys.version.split()[0]}, PyYAML {yaml.__version__}, Jinja2 {jinja2.__version__}")
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  median µs/call")
    for name, value in rows:
        print(f"{name:<{width}}  {value:12.3f}")


if __name__ == "__main__":
    main()
