# What both environments share: the image repository CI pushes to, and the role CI assumes through GitHub's OIDC
# provider to push there. Applied once, in one account (prod's, or a tooling account), after that account's
# bootstrap and before the environments; dev's and prod's accounts pull from it (pull_account_ids).

terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.42, < 7.0"
    }
  }

  backend "s3" {
    key          = "livehouse/global/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
}

# A few resources, so no community module: terraform-aws-modules/ecr would add nothing we use.
resource "aws_ecr_repository" "livehouse" {
  name                 = "livehouse"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

# One cluster per environment, each in its own account: their nodes pull across accounts (their node roles have
# AmazonEC2ContainerRegistryReadOnly; this policy is the repository's half of the grant).
data "aws_iam_policy_document" "pull" {
  statement {
    sid = "EnvironmentAccountsPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
    ]
    principals {
      type        = "AWS"
      identifiers = [for id in var.pull_account_ids : "arn:aws:iam::${id}:root"]
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  count = length(var.pull_account_ids) > 0 ? 1 : 0

  repository = aws_ecr_repository.livehouse.name
  policy     = data.aws_iam_policy_document.pull.json
}

resource "aws_ecr_lifecycle_policy" "livehouse" {
  repository = aws_ecr_repository.livehouse.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the last 200 develop images; release tags (v*) are kept."
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["develop-"]
          countType     = "imageCountMoreThan"
          countNumber   = 200
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Untagged layers go after a week."
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      }
    ]
  })
}

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    # Pushes come from the develop branch and from release tags only.
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/heads/develop",
        "repo:${var.github_repository}:ref:refs/tags/v*",
      ]
    }
  }
}

resource "aws_iam_role" "ci" {
  name               = "livehouse-ci-image-push"
  assume_role_policy = data.aws_iam_policy_document.ci_trust.json
}

data "aws_iam_policy_document" "ci_push" {
  statement {
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.livehouse.arn]
  }
}

resource "aws_iam_role_policy" "ci_push" {
  role   = aws_iam_role.ci.id
  name   = "push-livehouse-image"
  policy = data.aws_iam_policy_document.ci_push.json
}

variable "region" {
  type    = string
  default = "ap-northeast-1"
}

variable "pull_account_ids" {
  description = "The accounts whose clusters pull the image (dev's and prod's, when not this one)."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "owner/name of the repository whose CI pushes images."
  type        = string
}

output "image_repository" {
  value = aws_ecr_repository.livehouse.repository_url
}

output "ci_role_arn" {
  description = "The role .github/workflows/ci.yml assumes (aws-actions/configure-aws-credentials role-to-assume)."
  value       = aws_iam_role.ci.arn
}
