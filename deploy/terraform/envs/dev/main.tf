# livehouse dev, in its own account and cluster (livehouse-dev): small and cheap — one NAT gateway, single-AZ
# database and cache, no deletion protection — and developers may change the livehouse-dev namespace. Everything
# else is modules/environment, shared with prod.

terraform {
  required_version = ">= 1.11.0"
  backend "s3" {
    key          = "livehouse/dev/terraform.tfstate"
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

  environment = "dev"
  account     = var.account
  zone_label  = "k8s-dev"

  single_nat_gateway  = true
  system_node_count   = 2
  deletion_protection = false
  skip_final_snapshot = true
  log_retention_days  = 30

  database_instance_class = "db.t4g.medium"
  database_storage_gb     = 20
  multi_az                = false
  backup_retention_days   = 1
  cache_node_type         = "cache.t4g.small"
  cache_nodes             = 1

  developers_access = {
    edit = {
      policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
      access_scope = { type = "namespace", namespaces = ["livehouse-dev"] }
    }
    view = {
      policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
      access_scope = { type = "cluster" }
    }
  }
}

output "livehouse" {
  description = "Everything the Argo CD bootstrap and the overlays read: terraform output -json | livehouse infra-values."
  value       = module.environment
}
