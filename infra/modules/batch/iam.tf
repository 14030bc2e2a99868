# Two roles, both assumed by ECS tasks (Batch runs Fargate jobs as ECS tasks):
# - the execution role, used by the Fargate agent before the program starts: pull the image from
#   its ECR repository and write the container's stdout/stderr to the log group;
# - the job role, the program's own credentials: read the input prefix, write the output prefix
#   (results, errors, staged parts, multipart uploads), invoke the listed Bedrock models. Invoking
#   the prompt registry is granted by modules/registry's caller_role_names (job_role_name output).

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    sid     = "EcsTasksAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "OwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.batch.arn}:*"]
  }

  # Pulling the image: the layers and manifest of its own repository only.
  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid       = "PullImage"
      effect    = "Allow"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  # star-resource: ecr:GetAuthorizationToken supports no resource-level permissions; AWS accepts
  # only Resource "*" for it (the token is a registry login; what it can pull is PullImage above).
  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid       = "EcrLogin"
      effect    = "Allow"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "promptops-batch-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "job" {
  name               = "${local.name}-job"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

# What promptops-batch does with S3 (issue 27; examples/batch/src/s3.rs, and the checks compare
# its SDK calls with these statements): it reads the input object (GetObject, HeadObject); next to
# each results object `<key>` it writes `<key>.errors.jsonl` and, while running, stages parts
# under `<key>.parts/` (PutObject, GetObject, ListObjectsV2 on that prefix, DeleteObjects when it
# completes or starts over); it assembles the results with a multipart upload
# (CreateMultipartUpload, UploadPart, UploadPartCopy from a staged part, CompleteMultipartUpload)
# and aborts the unfinished uploads of its own key (ListMultipartUploads, AbortMultipartUpload).
# In IAM: s3:PutObject (create, upload part, complete), s3:GetObject (read, head, and the source
# of an UploadPartCopy), s3:DeleteObject, s3:AbortMultipartUpload, s3:ListBucket (only under an
# s3:prefix condition) and s3:ListBucketMultipartUploads. `merge` reads the shards' results
# (output prefix) and the input, and writes one results object (output prefix).
data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadInput"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${var.input_bucket}/${local.input_prefix}*"]
  }

  statement {
    sid       = "WriteOutput"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["arn:${local.partition}:s3:::${var.output_bucket}/${local.output_prefix}*"]
  }

  statement {
    sid       = "ListOutput"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${var.output_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.output_prefix, "${local.output_prefix}*"]
    }
  }

  # ListMultipartUploads, which the job calls with its own key as the prefix before it starts a
  # results object over and before it completes one (to abort an upload a killed run left). IAM
  # has no s3:prefix condition for this action, so it names the output bucket alone: it shows the
  # keys and upload ids of unfinished uploads in that bucket, never object data, and every action
  # on an upload (parts, abort) stays limited to the output prefix.
  statement {
    sid       = "FindUnfinishedUploads"
    effect    = "Allow"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = ["arn:${local.partition}:s3:::${var.output_bucket}"]
  }

  statement {
    sid       = "NeverWriteOtherEnvironment"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["arn:${local.partition}:s3:::${var.output_bucket}/${local.other_env}/*"]
  }

  # The Converse API (the runtime's default) is authorised by bedrock:InvokeModel too.
  statement {
    sid       = "InvokeListedModels"
    effect    = "Allow"
    actions   = ["bedrock:InvokeModel"]
    resources = local.bedrock_model_arns
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "BucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "promptops-batch-job"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}
