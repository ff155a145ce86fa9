terraform {
  # 1.10: S3-native state locking; 1.11: write-only arguments (passwords that never reach the state).
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.42, < 7.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7, < 4.0"
    }
  }

  # bucket and region come from the bootstrap root: terraform init -backend-config=../backend.hcl
  backend "s3" {
    key          = "livehouse/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
