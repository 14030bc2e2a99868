#!/usr/bin/env python3
"""Writes a synthetic prompt tree for benchmarks: N prompts of about 1.5 KB each.

Usage: gen_corpus.py [--output mixed|labels|structured] N OUT_DIR

Prompts are spread over domains of 50, mix free-text and classifier prompts, declare 3 typed
variables (one optional with a default) and use loops and conditionals, so validation does
the same work as on real prompts. Output is deterministic for a given N and --output.

--output selects what the prompts declare as their output:
  mixed       (default) one prompt in three declares `output.labels` (5 labels), the rest none;
  labels      every prompt declares `output.labels` (5 labels);
  structured  every prompt declares `output.schema`: an object of 10 required properties with
              descriptions (2 string enums of 3-6 values, 2 integers with minimum/maximum, a
              number with minimum/maximum, a boolean, 2 strings with maxLength, a nullable
              string, an array of strings with maxItems).
`labels` and `structured` write the same prompts except for the `output` section: the filler
that pads each prompt to ~1.5 KB is computed as for `labels`, so templates are identical.
"""
import os
import shutil
import sys

FILLER = (
    "Follow the style guide: be precise, cite the customer's own words when useful, "
    "never invent order numbers, and escalate anything involving legal threats. "
)


LABELS = ["output:", "  labels: [billing, technical, sales, retention, other]"]

CATEGORIES = ["billing", "technical", "sales", "retention", "shipping", "account"]


def schema(index: int) -> list[str]:
    """The `output.schema` section of a structured prompt: 10 required properties."""
    categories = CATEGORIES[: 3 + index % 4]          # 3 to 6 values, varying by prompt
    return [
        "output:",
        "  schema:",
        "    type: object",
        "    properties:",
        "      category:",
        "        type: string",
        f"        enum: [{', '.join(categories)}]",
        "        description: What the message is mainly about.",
        "      sentiment:",
        "        type: string",
        "        enum: [positive, neutral, negative, angry]",
        "        description: The customer's tone in the newest message.",
        "      urgency:",
        "        type: integer",
        "        minimum: 1",
        "        maximum: 5",
        "        description: 1 can wait a week, 5 means the customer cannot work now.",
        "      estimated_minutes:",
        "        type: integer",
        "        minimum: 0",
        "        maximum: 480",
        "        description: How long an agent will need, in minutes.",
        "      confidence:",
        "        type: number",
        "        minimum: 0",
        "        maximum: 1",
        "        description: How sure the model is of the category, from 0 to 1.",
        "      needs_human:",
        "        type: boolean",
        "        description: Whether a person must read this before any automated reply.",
        "      summary:",
        "        type: string",
        "        maxLength: 280",
        "        description: One or two sentences an agent reads before opening the ticket.",
        "      reply_draft:",
        "        type: string",
        "        maxLength: 2000",
        "        description: A first reply the agent can edit and send.",
        "      order_id:",
        "        type: [string, \"null\"]",
        "        description: The order or invoice number, if the customer gave one.",
        "      products:",
        "        type: array",
        "        items:",
        "          type: string",
        "        maxItems: 10",
        "        description: The products or features the customer names, as written.",
        "    required: [category, sentiment, urgency, estimated_minutes, confidence, needs_human,"
        " summary, reply_draft, order_id, products]",
    ]


def prompt(domain: int, index: int, output: str = "mixed") -> tuple[str, str]:
    name = f"task_{index:05d}"
    prompt_id = f"domain-{domain:03d}.task-{index:05d}"
    classifier = index % 3 == 0 if output == "mixed" else True
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
    head = len(lines)
    if classifier:
        lines += LABELS
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
    if output == "structured":
        # Same prompt, padded as the labels one; only the output section differs.
        labels = "\n".join(lines[:head] + LABELS) + "\n"
        body = "\n".join(lines[:head] + schema(index)) + "\n" + body[len(labels):]
    return f"domain_{domain:03d}/{name}.yaml", body


def main() -> None:
    args = sys.argv[1:]
    output = "mixed"
    if len(args) >= 2 and args[0] == "--output":
        output, args = args[1], args[2:]
    if len(args) != 2 or output not in ("mixed", "labels", "structured"):
        sys.exit(__doc__)
    count, out = int(args[0]), args[1]
    if os.path.isdir(out):
        shutil.rmtree(out)
    for index in range(count):
        path, text = prompt(index // 50, index, output)
        full = os.path.join(out, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
