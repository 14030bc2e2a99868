"""The project's IAM rules (issue 15), as plain functions over policy statements.

Used by the HCL tests (test_infra.py) and by the custom checkov policies (checkov_policies/), so
both enforce the same rules:

1. No wildcard in an action (`*`, `s3:*`, `s3:Get*`) — except the one TLS-only shape: a Deny of
   `s3:*` on the condition `aws:SecureTransport = false`, which can only take privileges away.
2. No `not_actions` / `not_resources` in an Allow; every statement names its resources.
3. `Resource "*"` only for actions AWS supports on `*` alone (STAR_ONLY_ACTIONS); the source must
   justify it with a `star-resource:` comment (checked on the text by the tests).
4. Any other `*` in a resource is a suffix after `/` or `:` of something named
   (`bucket/prefix/*`, `table/…/index/*`, `log-group:…:*`, `function:…:*`).
5. S3 object actions in an Allow are scoped to a prefix: `bucket/prefix/*`, never `bucket/*`.
6. `s3:ListBucket` carries an `s3:prefix` condition.
7. Bedrock invocations name foundation-model or inference-profile ARNs (or a list built from them:
   `${local.…model_arns}`, which checkov shows as `local.…model_arns` when it cannot evaluate the
   list; the tests check what such a local holds).
"""

from __future__ import annotations

import re

# Actions whose only supported resource is "*" (AWS service authorization reference).
STAR_ONLY_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        # A registry login token (an execution role pulling an ECR image); what it may pull is
        # the repository-scoped ecr:BatchGetImage / GetDownloadUrlForLayer.
        "ecr:GetAuthorizationToken",
    }
)

S3_OBJECT_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    }
)

# A named thing followed by a wildcard suffix: `…/*` or `…:*`, with something before the separator.
WILDCARD_SUFFIX = re.compile(r"^.*[^/:*]+[/:]\*$")
PREFIX_REF_SUFFIX = re.compile(r"/\$\{local\.\w+_prefix\}\*$")
# A reference to a list of model ARNs: `${local.bedrock_model_arns}` (HCL), or checkov's rendering
# of one it could not evaluate, `local.bedrock_model_arns`.
MODEL_ARNS_REF = re.compile(r"\$\{(local|var)\.\w*model_arns\}|(local|var)\.\w*model_arns")
TRUST_ACTIONS = frozenset({"sts:AssumeRole", "sts:TagSession"})
BEDROCK_ARN = re.compile(
    r"^arn:[^:]+:bedrock:[^:*]+:[^:*]*:(foundation-model|inference-profile|application-inference-profile)/[^*]+$"
)


def as_list(value) -> list:
    """A scalar or list attribute as a list of strings."""
    if value is None:
        return []
    if isinstance(value, list):
        out = []
        for item in value:
            out += as_list(item)
        return out
    return [value]


def normalize(statement: dict) -> dict:
    """A statement from an `aws_iam_policy_document` block (python-hcl2 or checkov form)."""

    def scalar(key, default=None):
        value = statement.get(key, default)
        while isinstance(value, list):
            value = value[0] if value else default
        return value

    conditions = []
    for cond in as_blocks(statement.get("condition")):
        conditions.append(
            {
                "test": scalar_of(cond.get("test")),
                "variable": scalar_of(cond.get("variable")),
                "values": [str(v).lower() if isinstance(v, bool) else v for v in as_list(cond.get("values"))],
            }
        )
    principals = []
    for principal in as_blocks(statement.get("principals")):
        principals.append(
            {"type": scalar_of(principal.get("type")), "identifiers": as_list(principal.get("identifiers"))}
        )
    return {
        "sid": scalar("sid", ""),
        "effect": scalar("effect", "Allow") or "Allow",
        "actions": as_list(statement.get("actions")),
        "not_actions": as_list(statement.get("not_actions")),
        "resources": as_list(statement.get("resources")),
        "not_resources": as_list(statement.get("not_resources")),
        "conditions": conditions,
        "principals": principals,
    }


def scalar_of(value):
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def as_blocks(value) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    out = []
    for item in value:
        out += as_blocks(item)
    return out


def is_tls_only_deny(st: dict) -> bool:
    """The TLS-only bucket policy shape: Deny s3:* when aws:SecureTransport is false."""
    return (
        st["effect"] == "Deny"
        and st["actions"] == ["s3:*"]
        and any(
            c["test"] == "Bool" and c["variable"] == "aws:SecureTransport" and c["values"] == ["false"]
            for c in st["conditions"]
        )
    )


def violations(st: dict) -> list[str]:
    """Every rule a normalized statement breaks, as messages naming the rule."""
    where = st["sid"] or "<no sid>"
    found = []
    allow = st["effect"] == "Allow"

    # Rule 1: wildcard actions.
    wild_actions = [a for a in st["actions"] + st["not_actions"] if "*" in str(a)]
    if wild_actions and not is_tls_only_deny(st):
        found.append(f"{where}: wildcard action {wild_actions} (rule 1)")

    # A role's trust policy: a service principal may assume the role; it has no resources.
    if st["principals"] and set(st["actions"]) <= TRUST_ACTIONS:
        for principal in st["principals"]:
            if principal["type"] != "Service" or any("*" in str(i) for i in principal["identifiers"]):
                found.append(f"{where}: a trust policy must name service principals (rule 2)")
        return found

    # Rule 2: not_actions / not_resources, missing resources.
    if allow and (st["not_actions"] or st["not_resources"]):
        found.append(f"{where}: not_actions/not_resources in an Allow (rule 2)")
    if not st["resources"]:
        found.append(f"{where}: no resources named (rule 2)")

    for resource in st["resources"]:
        resource = str(resource)
        if resource == "*":
            # Rule 3.
            extra = sorted(set(st["actions"]) - STAR_ONLY_ACTIONS)
            if extra:
                found.append(f'{where}: Resource "*" for {extra}, which support resource-level permissions (rule 3)')
            continue
        if "*" in resource and allow:
            # Rule 4: only a trailing `/*` or `:*` after something named.
            # (A `${local.…prefix}` ends in `/` by convention, checked by the tests, which see
            # the locals resolved; checkov sees them unresolved.)
            if resource.count("*") != 1 or not (WILDCARD_SUFFIX.match(resource) or PREFIX_REF_SUFFIX.search(resource)):
                found.append(f"{where}: wildcard in resource {resource!r} is not a named suffix (rule 4)")
        if allow and set(st["actions"]) & S3_OBJECT_ACTIONS and _is_bare_bucket(resource):
            # Rule 5.
            found.append(f"{where}: S3 object actions on a whole bucket {resource!r}; scope to bucket/prefix/* (rule 5)")

    # Rule 6.
    if allow and "s3:ListBucket" in st["actions"]:
        if not any(c["variable"] == "s3:prefix" for c in st["conditions"]):
            found.append(f"{where}: s3:ListBucket without an s3:prefix condition (rule 6)")

    # Rule 7.
    if allow and any(str(a).startswith("bedrock:") for a in st["actions"]):
        for resource in st["resources"]:
            resource = str(resource)
            if not (BEDROCK_ARN.match(resource) or MODEL_ARNS_REF.fullmatch(resource) or ("foundation-model/" in resource or "inference-profile/" in resource) and "*" not in resource):
                found.append(f"{where}: Bedrock resource {resource!r} is not a model or inference-profile ARN (rule 7)")
    return found


def _is_bare_bucket(resource: str) -> bool:
    """`${...bucket...}/*` or `arn:aws:s3:::name/*`: every object of a bucket."""
    if re.fullmatch(r"\$\{[^{}]+\}/\*", resource):
        return True
    return bool(re.fullmatch(r"arn:[^:]+:s3:::[^/]+/\*", resource))
