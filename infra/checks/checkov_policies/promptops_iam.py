"""Custom checkov policies for promptops' IAM rules (issue 15); the rules live in iam_rules.py."""

import sys
from pathlib import Path

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.data.base_check import BaseDataCheck

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import iam_rules  # noqa: E402  (the shared rules, one directory up)


class PromptopsIamStatementsScoped(BaseDataCheck):
    """Every statement of every policy document follows iam_rules' seven rules."""

    def __init__(self) -> None:
        super().__init__(
            name="promptops: IAM statements name their resources, no wildcard actions, * only for star-only actions",
            id="CKV_PROMPTOPS_1",
            categories=(CheckCategories.IAM,),
            supported_data=("aws_iam_policy_document",),
        )

    def scan_data_conf(self, conf):
        problems = []
        for statement in iam_rules.as_blocks(conf.get("statement")):
            problems += iam_rules.violations(iam_rules.normalize(statement))
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED


check = PromptopsIamStatementsScoped()
