# The bucket that holds every other root's state. Applied once per account with local state (this root's own
# state is small and holds no secret; keep terraform.tfstate somewhere safe or import the bucket if lost).
# Locking: S3-native lock files (use_lockfile = true, Terraform >= 1.10), so no DynamoDB table.

terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.42, < 7.0"
    }
  }
}

variable "region" {
  type    = string
  default = "ap-northeast-1"
}

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

module "state" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "5.15.4"

  bucket = "livehouse-${data.aws_caller_identity.current.account_id}-terraform-state"

  block_public_acls                     = true
  block_public_policy                   = true
  ignore_public_acls                    = true
  restrict_public_buckets               = true
  attach_deny_insecure_transport_policy = true

  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  # Every state version is kept, so a bad apply can be rolled back.
  versioning = {
    enabled = true
  }

  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = {
        sse_algorithm = "aws:kms"
      }
      bucket_key_enabled = true
    }
  }

  lifecycle_rule = [
    {
      id      = "old-state-versions"
      enabled = true
      noncurrent_version_expiration = {
        days = 365
      }
    }
  ]

  tags = {
    "managed-by" = "terraform"
  }
}

output "state_bucket" {
  value = module.state.s3_bucket_id
}

output "region" {
  value = var.region
}
