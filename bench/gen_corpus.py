#!/usr/bin/env python3
"""Writes a synthetic prompt tree for benchmarks: N prompts of about 1.5 KB each.

Usage: gen_corpus.py N OUT_DIR

Prompts are spread over domains of 50, mix free-text and classifier prompts, declare 3 typed
variables (one optional with a default) and use loops and conditionals, so validation does
the same work as on real prompts. Output is deterministic for a given N.
"""
import os
import shutil
import sys

FILLER = (
    "Follow the style guide: be precise, cite the customer's own words when useful, "
    "never invent order numbers, and escalate anything involving legal threats. "
)


def prompt(domain: int, index: int) -> tuple[str, str]:
    name = f"task_{index:05d}"
    prompt_id = f"domain-{domain:03d}.task-{index:05d}"
    classifier = index % 3 == 0
    lines = [
        f"id: {prompt_id}",
        "version: 3",
        "parent: 2",
        "owner: bench-team",
        "model: claude-3-5-sonnet" if index % 2 else "model: amazon.titan-text-express-v1",
        f"description: Synthetic benchmark prompt {index} in domain {domain}.",
        "tags: [bench, synthetic]",
        "metrics:",
        "  baseline_accuracy: 0.9",
        "  cost_per_call_usd: 0.002",
        "inference:",
        "  max_tokens: 300",
        "  temperature: 0.2",
        "variables:",
        "  customer:",
        "    type: string",
        "    description: Customer display name.",
        "    sensitive: true",
        "  message:",
        "    type: string",
        "  history:",
        "    type: list",
        "    default: []",
    ]
    if classifier:
        lines += ["output:", "  labels: [billing, technical, sales, retention, other]"]
    lines += [
        "system: |",
        f"  You are assistant number {index}. {FILLER}",
        "template: |",
        "  Customer: {{ customer }}",
        "  {% if history %}Previous turns:",
        "  {% for turn in history %}- {{ turn }}",
        "  {% endfor %}{% endif %}",
        "  Message: {{ message }}",
    ]
    body = "\n".join(lines) + "\n"
    while len(body) < 1450:
        body += f"  {FILLER}\n"
    body += "  Answer now.\n"
    return f"domain_{domain:03d}/{name}.yaml", body


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count, out = int(sys.argv[1]), sys.argv[2]
    if os.path.isdir(out):
        shutil.rmtree(out)
    for index in range(count):
        path, text = prompt(index // 50, index)
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
