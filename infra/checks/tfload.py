"""Loading Terraform with python-hcl2 (8.x) into plain Python values, for the infra checks.

python-hcl2 8 keeps string literals quoted (`'"abc"'`) and expressions as `'${...}'`; blocks are
dicts marked `__is_block__`; labels are quoted keys. `Module` flattens one directory (a
Terraform module) into variables, outputs, locals, resources, data sources and module calls,
keyed by their unquoted names, and keeps each file's text for the checks that read comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

META_KEYS = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}


def unquote(value):
    """A string literal without its quotes and escapes; anything else unchanged."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        return inner.replace('\\"', '"').replace("\\\\", "\\")
    return value


def clean(value):
    """Recursively unquote strings and labels and drop python-hcl2's metadata keys."""
    if isinstance(value, dict):
        return {unquote(k): clean(v) for k, v in value.items() if k not in META_KEYS}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return unquote(value)


def comments(value) -> list[str]:
    """Every comment python-hcl2 attached anywhere inside `value`."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("__comments__", "__inline_comments__"):
                found += [c.get("value", "") for c in item if isinstance(c, dict)]
            else:
                found += comments(item)
    elif isinstance(value, list):
        for item in value:
            found += comments(item)
    return found


@dataclass
class Module:
    """One Terraform module directory."""

    path: Path
    variables: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    locals: dict = field(default_factory=dict)
    resources: dict = field(default_factory=dict)  # (type, name) -> body
    data: dict = field(default_factory=dict)  # (type, name) -> body
    modules: dict = field(default_factory=dict)  # name -> body
    raw_resources: dict = field(default_factory=dict)  # (type, name) -> body with comments
    texts: dict = field(default_factory=dict)  # file name -> text

    def of_type(self, kind: str) -> dict:
        """Resources of one type, by name."""
        return {name: body for (t, name), body in self.resources.items() if t == kind}

    def data_of_type(self, kind: str) -> dict:
        """Data sources of one type, by name."""
        return {name: body for (t, name), body in self.data.items() if t == kind}


def load_module(path: Path) -> Module:
    """Parse every `*.tf` file of a directory (not its subdirectories)."""
    path = Path(path)
    files = sorted(path.glob("*.tf"))
    if not files:
        raise FileNotFoundError(f"no .tf files in {path}")
    module = Module(path=path)
    for file in files:
        text = file.read_text()
        module.texts[file.name] = text
        tree = hcl2.loads(text)
        for block in tree.get("variable", []):
            module.variables.update(clean(block))
        for block in tree.get("output", []):
            module.outputs.update(clean(block))
        for block in tree.get("locals", []):
            module.locals.update(clean(block))
        for block in tree.get("module", []):
            module.modules.update(clean(block))
        for kind, target, raw in (("resource", module.resources, module.raw_resources), ("data", module.data, None)):
            for block in tree.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        if name in META_KEYS:
                            continue
                        key = (unquote(rtype), unquote(name))
                        target[key] = clean(body)
                        if raw is not None:
                            raw[key] = body
    return module


def first(value):
    """python-hcl2 gives some attributes as one-element lists (blocks); the block itself."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value


REF = re.compile(r"\$\{([^{}]*)\}")


def resolve(text: str, env: dict) -> str:
    """Substitute `${name}` references whose names `env` knows, repeatedly, innermost first.

    `env` maps reference text (`var.env`, `local.outputs_prefix`) to a string value (itself
    possibly holding references). Unknown references stay as they are.
    """
    for _ in range(20):
        changed = False

        def sub(match):
            nonlocal changed
            name = match.group(1).strip()
            if name in env:
                changed = True
                return env[name]
            return match.group(0)

        new = REF.sub(sub, text)
        if not changed:
            return new
        text = new
    return text


def is_expression(value: str) -> bool:
    """`${…}` spanning the whole string (an expression), as opposed to a string template."""
    if not value.startswith("${"):
        return False
    depth = 0
    for i, ch in enumerate(value):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i == len(value) - 1
    return False


CONDITIONAL = re.compile(r'^\$\{\s*([\w.]+)\s*==\s*"([^"]*)"\s*\?\s*"([^"]*)"\s*:\s*"([^"]*)"\s*\}$')


ALIAS = re.compile(r"^\$\{\s*((?:var|local)\.\w+)\s*\}$")


def string_locals(module: Module, variables: dict) -> dict:
    """A resolution table: `var.NAME` for the given variable values, and `local.NAME` for locals
    that are string templates, a simple `ref == "x" ? "a" : "b"` over a known variable, or a
    plain alias of a known reference (`input_prefix = var.input_prefix`)."""
    table = {f"var.{k}": v for k, v in variables.items()}
    for name, value in module.locals.items():
        if not isinstance(value, str):
            continue
        cond = CONDITIONAL.match(value)
        if cond:
            ref, equals, then, otherwise = cond.groups()
            if ref in table:
                table[f"local.{name}"] = then if table[ref] == equals else otherwise
        elif not is_expression(value):
            table[f"local.{name}"] = value
    for _ in range(len(module.locals)):
        added = False
        for name, value in module.locals.items():
            alias = ALIAS.match(value) if isinstance(value, str) else None
            if alias and alias.group(1) in table and f"local.{name}" not in table:
                table[f"local.{name}"] = table[alias.group(1)]
                added = True
        if not added:
            break
    return table
