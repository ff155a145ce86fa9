# livehouse prod, in its own account and cluster (livehouse-prod): the module's defaults are prod's posture — a NAT
# gateway per zone, Multi-AZ database and cache, deletion protection and a final snapshot, and only SRE may change
# anything (developers view). What is shared with dev is modules/environment.

terraform {
  # 1.10: S3-native state locking; 1.11: write-only arguments (passwords that never reach the state).
  required_version = ">= 1.11.0"

  # bucket and region come from the bootstrap root: terraform init -backend-config=../backend.hcl
  backend "s3" {
    key          = "livehouse/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

variable "account" {
  description = "This account's values (terraform.tfvars.example); typed and checked by modules/environment."
  type        = any
}

provider "aws" {
  region = var.account.region
}

module "environment" {
  source = "../../modules/environment"

  environment = "prod"
  account     = var.account
}

output "livehouse" {
  description = "Everything the Argo CD bootstrap and the overlays read: terraform output -json | livehouse infra-values."
  value       = module.environment
}
