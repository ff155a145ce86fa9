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

# External Secrets: the controller's own role may only assume the readers below; each namespace's SecretStore names
# its reader (deploy/k8s/platform/secret-store.yaml), so dev's store can never read prod's secrets.
module "external_secrets" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                 = "${var.cluster_name}-external-secrets"
  attach_custom_policy = true
  policy_statements = [
    {
      sid       = "AssumeTheNamespaceReaders"
      actions   = ["sts:AssumeRole", "sts:TagSession"]
      resources = [for r in aws_iam_role.secrets_reader : r.arn]
    }
  ]

  associations = {
    controller = {
      cluster_name    = var.cluster_name
      namespace       = "external-secrets"
      service_account = "external-secrets"
    }
  }

  tags = var.tags
}

locals {
  # Reader role name => the Secrets Manager prefix it may read.
  secrets_readers = {
    "livehouse-${var.environment}-external-secrets" = "livehouse/${var.environment}/"
    "${var.cluster_name}-platform-external-secrets" = "livehouse/platform/"
  }
}

data "aws_iam_policy_document" "secrets_reader_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${var.account_id}:root"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = ["arn:aws:iam::${var.account_id}:role/${var.cluster_name}-external-secrets-*"]
    }
  }
}

resource "aws_iam_role" "secrets_reader" {
  for_each = local.secrets_readers

  name               = each.key
  description        = "External Secrets: read ${each.value}* only"
  assume_role_policy = data.aws_iam_policy_document.secrets_reader_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "secrets_reader" {
  for_each = local.secrets_readers

  role = aws_iam_role.secrets_reader[each.key].id
  name = "read-secrets"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
      Resource = "arn:aws:secretsmanager:${var.region}:${var.account_id}:secret:${each.value}*"
    }]
  })
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
