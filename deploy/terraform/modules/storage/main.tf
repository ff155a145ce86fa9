# The buckets the platform writes: ALB access logs (expired after log_retention_days), thumbnails and video
# archives. All encrypted at rest, public access blocked, TLS-only, owner-enforced (no ACLs).

locals {
  common = {
    block_public_acls                     = true
    block_public_policy                   = true
    ignore_public_acls                    = true
    restrict_public_buckets               = true
    attach_deny_insecure_transport_policy = true
  }
}

module "alb_logs" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "5.15.4"

  bucket = "${var.bucket_prefix}-alb-access-logs"

  block_public_acls                     = local.common.block_public_acls
  block_public_policy                   = local.common.block_public_policy
  ignore_public_acls                    = local.common.ignore_public_acls
  restrict_public_buckets               = local.common.restrict_public_buckets
  attach_deny_insecure_transport_policy = local.common.attach_deny_insecure_transport_policy

  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  # Both principals: regions older than August 2022 (ap-northeast-1 among them) deliver as the regional ELB account.
  attach_elb_log_delivery_policy = true
  attach_lb_log_delivery_policy  = true

  # ALB access logs support SSE-S3 only (not KMS).
  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = {
        sse_algorithm = "AES256"
      }
    }
  }

  lifecycle_rule = [
    {
      id                                     = "expire-logs"
      enabled                                = true
      abort_incomplete_multipart_upload_days = 1
      transition = [
        {
          days          = 30
          storage_class = "STANDARD_IA"
        }
      ]
      expiration = {
        days = var.log_retention_days
      }
    }
  ]

  tags = var.tags
}

module "thumbnails" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "5.15.4"

  bucket = "${var.bucket_prefix}-thumbnails"

  block_public_acls                     = local.common.block_public_acls
  block_public_policy                   = local.common.block_public_policy
  ignore_public_acls                    = local.common.ignore_public_acls
  restrict_public_buckets               = local.common.restrict_public_buckets
  attach_deny_insecure_transport_policy = local.common.attach_deny_insecure_transport_policy

  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = {
        sse_algorithm = "AES256"
      }
    }
  }

  lifecycle_rule = [
    {
      id                                     = "abort-uploads"
      enabled                                = true
      abort_incomplete_multipart_upload_days = 1
    }
  ]

  tags = var.tags
}

module "archives" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "5.15.4"

  bucket = "${var.bucket_prefix}-video-archives"

  block_public_acls                     = local.common.block_public_acls
  block_public_policy                   = local.common.block_public_policy
  ignore_public_acls                    = local.common.ignore_public_acls
  restrict_public_buckets               = local.common.restrict_public_buckets
  attach_deny_insecure_transport_policy = local.common.attach_deny_insecure_transport_policy

  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  # Archives outlive the streams: versioning keeps an overwritten or deleted one for noncurrent_days.
  versioning = {
    enabled = true
  }

  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = {
        sse_algorithm = "AES256"
      }
    }
  }

  lifecycle_rule = [
    {
      id                                     = "archives"
      enabled                                = true
      abort_incomplete_multipart_upload_days = 1
      transition = [
        {
          days          = var.archive_infrequent_access_days
          storage_class = "STANDARD_IA"
        }
      ]
      noncurrent_version_expiration = {
        days = 30
      }
    }
  ]

  tags = var.tags
}
