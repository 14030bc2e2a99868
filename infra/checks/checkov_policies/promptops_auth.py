"""Custom checkov policies: the registry's Function URL and the pipeline API's routes use AWS_IAM,
and every Lambda runs the Rust binaries on provided.al2023 (issue 15)."""

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


def _value(conf, key):
    value = conf.get(key)
    while isinstance(value, list):
        value = value[0] if value else None
    return value


class PromptopsFunctionUrlIamAuth(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="promptops: Lambda Function URLs use AWS_IAM authorization",
            id="CKV_PROMPTOPS_2",
            categories=(CheckCategories.IAM,),
            supported_resources=("aws_lambda_function_url",),
        )

    def scan_resource_conf(self, conf):
        return CheckResult.PASSED if _value(conf, "authorization_type") == "AWS_IAM" else CheckResult.FAILED


class PromptopsHttpApiRouteIamAuth(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="promptops: HTTP API routes use AWS_IAM authorization",
            id="CKV_PROMPTOPS_3",
            categories=(CheckCategories.IAM,),
            supported_resources=("aws_apigatewayv2_route",),
        )

    def scan_resource_conf(self, conf):
        return CheckResult.PASSED if _value(conf, "authorization_type") == "AWS_IAM" else CheckResult.FAILED


class PromptopsLambdaRuntime(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="promptops: Lambdas run the Rust bootstrap on provided.al2023",
            id="CKV_PROMPTOPS_4",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("aws_lambda_function",),
        )

    def scan_resource_conf(self, conf):
        ok = _value(conf, "runtime") == "provided.al2023" and _value(conf, "handler") == "bootstrap"
        return CheckResult.PASSED if ok else CheckResult.FAILED


function_url_check = PromptopsFunctionUrlIamAuth()
route_check = PromptopsHttpApiRouteIamAuth()
runtime_check = PromptopsLambdaRuntime()
