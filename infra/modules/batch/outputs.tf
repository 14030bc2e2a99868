output "compute_environment_arn" {
  description = "The Fargate compute environment."
  value       = aws_batch_compute_environment.fargate.arn
}

output "job_queue_name" {
  description = "The job queue (submit-job --job-queue)."
  value       = aws_batch_job_queue.batch.name
}

output "job_queue_arn" {
  description = "The job queue's ARN."
  value       = aws_batch_job_queue.batch.arn
}

output "shard_job_definition_name" {
  description = "The shard job definition: submit it as an array job of size N with the parameters input_uri, output_uri, shard (array/N) and optionally prompt."
  value       = aws_batch_job_definition.shard.name
}

output "shard_job_definition_arn" {
  description = "The shard job definition's ARN (with its revision)."
  value       = aws_batch_job_definition.shard.arn
}

output "merge_job_definition_name" {
  description = "The merge job definition: one job with the parameters shards, from_uri, output_uri and input_uri."
  value       = aws_batch_job_definition.merge.name
}

output "merge_job_definition_arn" {
  description = "The merge job definition's ARN (with its revision)."
  value       = aws_batch_job_definition.merge.arn
}

output "job_role_name" {
  description = "The program's role: pass it to modules/registry's caller_role_names when the job resolves prompts through the registry."
  value       = aws_iam_role.job.name
}

output "job_role_arn" {
  description = "The program's role ARN."
  value       = aws_iam_role.job.arn
}

output "execution_role_name" {
  description = "The role the Fargate agent uses to pull the image and write the logs."
  value       = aws_iam_role.execution.name
}

output "log_group_name" {
  description = "Where every shard's stdout/stderr goes (stream prefix `promptops-batch`)."
  value       = aws_cloudwatch_log_group.batch.name
}

# The commands, with this deployment's names filled in; replace RUN, INPUT.jsonl and N (2 to
# 10,000; the array size and the `shards` parameter must be the same number).
output "submit_command" {
  description = "Submits a sharded run: an array job of N children, child I running shard I of N."
  value       = <<-EOT
    aws batch submit-job --job-name ${local.name}-RUN \
      --job-queue ${aws_batch_job_queue.batch.name} \
      --job-definition ${aws_batch_job_definition.shard.name} \
      --array-properties size=N \
      --parameters '{"input_uri": "s3://${var.input_bucket}/${var.input_prefix}INPUT.jsonl", "output_uri": "s3://${var.output_bucket}/${var.output_prefix}RUN/results-{shard}.jsonl", "shard": "array/N", "prompt": "${var.default_prompt}"}' \
      --query jobId --output text
  EOT
}

output "merge_command" {
  description = "Submits the merge of a sharded run; --depends-on makes it wait until every child of the array job has succeeded."
  value       = <<-EOT
    aws batch submit-job --job-name ${local.name}-RUN-merge \
      --job-queue ${aws_batch_job_queue.batch.name} \
      --job-definition ${aws_batch_job_definition.merge.name} \
      --depends-on jobId=ARRAY_JOB_ID \
      --parameters '{"shards": "N", "from_uri": "s3://${var.output_bucket}/${var.output_prefix}RUN/results-{shard}.jsonl", "output_uri": "s3://${var.output_bucket}/${var.output_prefix}RUN/results.jsonl", "input_uri": "s3://${var.input_bucket}/${var.input_prefix}INPUT.jsonl"}'
  EOT
}
