terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.50 or later: aws_batch_job_queue's `compute_environment_order` (which replaced the
      # deprecated `compute_environments` list in 5.x).
      version = ">= 5.50, < 6.0"
    }
  }
}
