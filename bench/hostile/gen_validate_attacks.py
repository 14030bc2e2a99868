#!/usr/bin/env python3
"""Writes one prompt tree per validation attack (issue 21, item 2), for validate_attacks.sh.

Usage: gen_validate_attacks.py OUT_DIR [DIVISOR]

DIVISOR (default 1) divides every count, for small versions whose reports can be compared
between two builds in seconds.

Each attack is OUT_DIR/<attack>/hostile/<attack>.yaml, a prompt file with the id
`hostile.<attack>` (underscores become hyphens), so the file's path matches its id and the
only problems are the ones the attack is about. Output is deterministic.
"""
import os
import shutil
import sys

DIVISOR = 1


def n(count):
    return max(1, count // DIVISOR)

HEADER = "id: hostile.{id}\nversion: 1\nowner: red-team\nmodel: nova-lite\ntags: []\n"


def literal(lines):
    """A `template: |` block holding `lines`."""
    return "template: |\n" + "".join(f"  {line}\n" for line in lines)


def chunks(items, size):
    return [" ".join(items[i : i + size]) for i in range(0, len(items), size)]


def many_variables():
    # The 249 KB template with 20k variables, no `variables:` (all inferred).
    uses = [f"{{{{ v{i} }}}}" for i in range(n(20_000))]
    return literal(chunks(uses, 10))


def unknown_keys():
    # 40k unknown top-level keys, one per line.
    return literal(["Hello"]) + "".join(f"unknown_{i:05d}: 1\n" for i in range(n(40_000)))


def unknown_keys_one_line():
    # The same keys in one flow mapping on a single line: every diagnostic shows that line.
    keys = ", ".join(f"unknown_{i:05d}: 1" for i in range(n(40_000)))
    return "{" + f"id: hostile.unknown-keys-one-line, version: 1, owner: red-team, model: nova-lite, tags: [], template: Hello, {keys}" + "}\n"


def undeclared_variables():
    # The 23 KB template using 2k variables of which only one is declared.
    uses = ["{{ declared }}"] + [f"{{{{ u{i} }}}}" for i in range(n(2_000))]
    return "variables:\n  declared: string\n" + literal(chunks(uses, 10))


def undeclared_variables_folded():
    # The same in a folded (`>`) block, whose positions are found by searching its lines.
    uses = ["{{ declared }}"] + [f"{{{{ u{i} }}}}" for i in range(n(2_000))]
    body = "".join(f"  {line}\n" for line in chunks(uses, 10))
    return "variables:\n  declared: string\ntemplate: >\n" + body


def suggestions():
    # 10k declared and 10k undeclared names one edit apart: "did you mean" against a long list.
    declared = "".join(f"  a{i:05d}: string\n" for i in range(n(10_000)))
    uses = [f"{{{{ b{i:05d} }}}}" for i in range(n(10_000))]
    return "variables:\n" + declared + literal(chunks(uses, 10))


def unused_variables():
    # 40k declared variables no template uses.
    declared = "".join(f"  x{i:05d}: string\n" for i in range(n(40_000)))
    return "variables:\n" + declared + literal(["Hello"])


def many_labels():
    # 40k output labels (distinct): the duplicate-label check compares each with the others.
    labels = "".join(f"    - L{i:05d}\n" for i in range(n(40_000)))
    return literal(["Hello"]) + "output:\n  labels:\n" + labels


ATTACKS = [
    many_variables,
    unknown_keys,
    unknown_keys_one_line,
    undeclared_variables,
    undeclared_variables_folded,
    suggestions,
    unused_variables,
    many_labels,
]


def main():
    global DIVISOR
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    if len(sys.argv) == 3:
        DIVISOR = int(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    for attack in ATTACKS:
        name = attack.__name__
        directory = os.path.join(out, name, "hostile")
        os.makedirs(directory)
        body = attack()
        if not body.startswith("{"):
            body = HEADER.format(id=name.replace("_", "-")) + body
        with open(os.path.join(directory, f"{name}.yaml"), "w", encoding="utf-8") as f:
            f.write(body)


if __name__ == "__main__":
    main()
