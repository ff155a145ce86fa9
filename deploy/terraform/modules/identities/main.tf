# EKS Pod Identity roles for the add-ons and the services that call AWS. Each role is bound to one
# namespace/service-account pair; the services' roles reach their own bucket and nothing else.

module "aws_load_balancer_controller" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                            = "${var.cluster_name}-aws-load-balancer-controller"
  attach_aws_lb_controller_policy = true

  associations = {
    controller = {
      cluster_name    = var.cluster_name
      namespace       = "kube-system"
      service_account = "aws-load-balancer-controller"
    }
  }

  tags = var.tags
}

module "external_secrets" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                                  = "${var.cluster_name}-external-secrets"
  attach_external_secrets_policy        = true
  external_secrets_secrets_manager_arns = var.secret_arns
  external_secrets_create_permission    = false

  associations = {
    controller = {
      cluster_name    = var.cluster_name
      namespace       = "external-secrets"
      service_account = "external-secrets"
    }
  }

  tags = var.tags
}

module "fluent_bit" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                 = "${var.cluster_name}-fluent-bit"
  attach_custom_policy = true
  policy_statements = [
    {
      sid = "ContainerLogs"
      actions = [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
        "logs:PutRetentionPolicy",
      ]
      resources = [
        "arn:aws:logs:${var.region}:${var.account_id}:log-group:${var.log_group_name}",
        "arn:aws:logs:${var.region}:${var.account_id}:log-group:${var.log_group_name}:*",
      ]
    }
  ]

  associations = {
    fluent_bit = {
      cluster_name    = var.cluster_name
      namespace       = "logging"
      service_account = "fluent-bit"
    }
  }

  tags = var.tags
}

# thumbnail: reads and writes images in the thumbnails bucket, nowhere else.
module "thumbnail" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                 = "${var.cluster_name}-thumbnail"
  attach_custom_policy = true
  policy_statements = [
    {
      sid       = "ThumbnailObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["${var.thumbnails_bucket_arn}/*"]
    },
    {
      sid       = "ThumbnailBucket"
      actions   = ["s3:ListBucket"]
      resources = [var.thumbnails_bucket_arn]
    }
  ]

  associations = {
    thumbnail = {
      cluster_name    = var.cluster_name
      namespace       = var.namespace
      service_account = "thumbnail"
    }
  }

  tags = var.tags
}

# ingest (video): writes segments and archives to the archives bucket, nowhere else.
module "ingest" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                 = "${var.cluster_name}-ingest"
  attach_custom_policy = true
  policy_statements = [
    {
      sid = "ArchiveObjects"
      actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
      ]
      resources = ["${var.archives_bucket_arn}/*"]
    },
    {
      sid       = "ArchiveBucket"
      actions   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
      resources = [var.archives_bucket_arn]
    }
  ]

  associations = {
    for sa in var.video_service_accounts : sa => {
      cluster_name    = var.cluster_name
      namespace       = var.namespace
      service_account = sa
    }
  }

  tags = var.tags
}
