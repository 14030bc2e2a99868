# Issue 27, part 3: sharded runs of promptops-batch on AWS Batch (Fargate). A managed Fargate
# compute environment, its job queue, and two job definitions running the batch binary's image
# (examples/batch/Dockerfile): `shard`, submitted as an array job whose child I runs shard I of N
# (`--shard array/N` reads AWS_BATCH_JOB_ARRAY_INDEX), and `merge`, one job that combines the N
# results objects and checks every input id appears exactly once. The roles are in iam.tf.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name       = "${var.resource_prefix}-${var.env}-batch"
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  # The other environment: the job role may never write under its prefix (an explicit Deny).
  other_env = var.env == "beta" ? "prod" : "beta"

  # The prefixes IAM scopes to (validated: non-empty, ending in `/`).
  input_prefix  = var.input_prefix
  output_prefix = var.output_prefix

  # The image's ECR repository, when it is an ECR image: the execution role pulls that one only.
  ecr_image          = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.image), null)
  ecr_repository_arn = local.ecr_image == null ? null : "arn:${local.partition}:ecr:${local.ecr_image[1]}:${local.ecr_image[0]}:repository/${local.ecr_image[2]}"

  # Bedrock: exactly the listed models, in the job's region. A cross-region inference profile
  # (`us.…`, `eu.…`, …) needs the profile ARN and its foundation model in each region it routes to.
  profile_pattern = "^(us|eu|apac|us-gov|global|jp|au|ca)\\."
  bedrock_model_arns = distinct(concat(
    flatten([
      for id in var.bedrock_model_ids : [
        for region in(can(regex(local.profile_pattern, id)) ? distinct(concat([local.region], var.bedrock_profile_regions)) : [local.region]) :
        "arn:${local.partition}:bedrock:${region}::foundation-model/${can(regex(local.profile_pattern, id)) ? replace(id, "/^[a-z-]+\\./", "") : id}"
      ]
    ]),
    [for id in var.bedrock_model_ids : "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${id}" if can(regex(local.profile_pattern, id))],
    var.extra_bedrock_model_arns,
  ))

  # The program's interface (examples/batch): one shard per array child. AWS Batch substitutes
  # each `Ref::NAME` from the submit-job call's --parameters (or the defaults below);
  # `{shard}` in output_uri is expanded by the program to the zero-padded `IIII-of-NNNN`, and
  # `array/N` reads the index from AWS_BATCH_JOB_ARRAY_INDEX. N must equal the array size.
  # Batch substitutes a `Ref::NAME` that is a whole argument, so the shard parameter carries
  # the whole `array/N` (a placeholder inside a longer string is not documented to work).
  shard_command = [
    "--input", "Ref::input_uri",
    "--output", "Ref::output_uri",
    "--shard", "Ref::shard",
    "--prompt", "Ref::prompt",
    "--model", "bedrock",
    "--progress", "plain",
    # A child that finished with some failed records (they are in its errors object) exits 0:
    # a failed child would fail the array job and the merge that depends on it.
    "--allow-failed-records",
  ]
  # Combines the N shard results (from_uri is the shards' output_uri, `{shard}` included) into
  # output_uri and checks that every id of input_uri appears exactly once.
  merge_command = [
    "merge",
    "--shards", "Ref::shards",
    "--from", "Ref::from_uri",
    "--output", "Ref::output_uri",
    "--input", "Ref::input_uri",
  ]

  # The container's environment. The Rust SDK takes its region from AWS_REGION (Fargate tasks
  # have no instance metadata to ask), so it is set explicitly.
  job_environment = merge(
    { AWS_REGION = local.region },
    var.prompt_registry_function_name == null ? {} : {
      PROMPT_REGISTRY_FUNCTION = var.prompt_registry_function_name
      PROMPTOPS_REGISTRY_MODE  = var.prompt_registry_mode
    },
  )

  # What the two job definitions share: the image, the roles, the size, the logs, the network.
  container_base = {
    image            = var.image
    jobRoleArn       = aws_iam_role.job.arn
    executionRoleArn = aws_iam_role.execution.arn
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.vcpu) },
      { type = "MEMORY", value = tostring(var.memory) },
    ]
    environment = [for key in sort(keys(local.job_environment)) : { name = key, value = local.job_environment[key] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.batch.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "promptops-batch"
      }
    }
    networkConfiguration         = { assignPublicIp = var.assign_public_ip ? "ENABLED" : "DISABLED" }
    fargatePlatformConfiguration = { platformVersion = "LATEST" }
    runtimePlatform              = { operatingSystemFamily = "LINUX", cpuArchitecture = var.cpu_architecture }
    privileged                   = false
  }
}

resource "aws_cloudwatch_log_group" "batch" {
  #checkov:skip=CKV_AWS_158:Encrypted with kms_key_arn when one is given; otherwise CloudWatch's own encryption (checkov cannot see through the variable).
  name              = "/aws/batch/${local.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# No service_role: Batch uses its service-linked role (AWSServiceRoleForBatch), so this module
# attaches no AWS-managed policy anywhere.
resource "aws_batch_compute_environment" "fargate" {
  compute_environment_name = local.name
  type                     = "MANAGED"
  state                    = "ENABLED"

  compute_resources {
    type               = var.use_fargate_spot ? "FARGATE_SPOT" : "FARGATE"
    max_vcpus          = var.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = var.tags
}

resource "aws_batch_job_queue" "batch" {
  name     = local.name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.fargate.arn
  }

  tags = var.tags
}

resource "aws_batch_job_definition" "shard" {
  name                  = "${local.name}-shard"
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true

  # Defaults for the Ref:: placeholders; input_uri, output_uri and shard (array/N) come with each submit.
  parameters = {
    prompt = var.default_prompt
  }

  container_properties = jsonencode(merge(local.container_base, { command = local.shard_command }))

  retry_strategy {
    attempts = var.retry_attempts

    # A usage or configuration error (exit code 2) does not get better by retrying; an S3 or
    # input error (exit code 3) and anything else do.
    evaluate_on_exit {
      action       = "EXIT"
      on_exit_code = "2"
    }

    # Anything else (a reclaimed Spot task, a throttled run, a crash) resumes from the checkpoint.
    evaluate_on_exit {
      action    = "RETRY"
      on_reason = "*"
    }
  }

  timeout {
    attempt_duration_seconds = var.attempt_timeout_seconds
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = !startswith(var.output_prefix, "${local.other_env}/")
      error_message = "output_prefix lies under the other environment's prefix (${local.other_env}/)."
    }
  }
}

resource "aws_batch_job_definition" "merge" {
  name                  = "${local.name}-merge"
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true

  container_properties = jsonencode(merge(local.container_base, { command = local.merge_command }))

  retry_strategy {
    attempts = var.retry_attempts

    # A merge that ran and failed (a missing or doubled id, a usage error) fails the same way
    # again: only a task that never got to exit (it could not start, its host went away) is retried.
    evaluate_on_exit {
      action       = "EXIT"
      on_exit_code = "*"
    }

    evaluate_on_exit {
      action    = "RETRY"
      on_reason = "*"
    }
  }

  timeout {
    attempt_duration_seconds = var.attempt_timeout_seconds
  }

  tags = var.tags
}
