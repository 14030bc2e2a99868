terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 6.0"
    }
  }
  # State is local by default. CI adds an S3 backend with a backend_override.tf (see
  # .github/workflows/beta.yml and infra/README.md).
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
