# One livehouse environment in its own AWS account: its VPC, EKS cluster (livehouse-<environment>), delegated zone,
# buckets, database, cache and Pod Identity roles. envs/dev and envs/prod call it with only what differs.

terraform {
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
}

data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_caller_identity" "current" {}

data "aws_ecr_repository" "livehouse" {
  name        = var.account.image_repository_name
  registry_id = var.account.image_registry_id
}

locals {
  # One cluster per environment, and the cluster's name is everything's prefix (roles, queue, discovery tags).
  name      = "livehouse-${var.environment}"
  namespace = "livehouse-${var.environment}"
  zone_name = "${var.zone_label}.${var.account.parent_zone_name}"
  tags = {
    "livehouse.dev/environment" = var.environment
    "managed-by"                = "terraform"
  }
}

module "network" {
  source = "../network"

  name                = local.name
  cidr                = var.vpc_cidr
  azs                 = slice(data.aws_availability_zones.available.names, 0, 3)
  private_subnets     = var.private_subnets
  public_subnets      = var.public_subnets
  database_subnets    = var.database_subnets
  elasticache_subnets = var.elasticache_subnets
  endpoint_subnets    = var.endpoint_subnets
  single_nat_gateway  = var.single_nat_gateway
  discovery_tag       = local.name
}

module "cluster" {
  source = "../cluster"

  name               = local.name
  kubernetes_version = var.kubernetes_version
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  admin_cidrs        = var.account.admin_cidrs

  system_instance_types = var.system_instance_types
  system_node_count     = var.system_node_count
  deletion_protection   = var.deletion_protection

  access_entries = {
    sre = {
      principal_arn     = var.account.sre_role_arn
      kubernetes_groups = ["sre"]
      policy_associations = {
        admin = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
    developers = {
      principal_arn       = var.account.developers_role_arn
      kubernetes_groups   = ["developers"]
      policy_associations = var.developers_access
    }
  }

  tags = local.tags
}

module "dns" {
  source = "../dns"

  environment      = var.environment
  parent_zone_name = var.account.parent_zone_name
  zone_name        = local.zone_name
  cluster_name     = module.cluster.cluster_name
  tags             = local.tags
}

module "storage" {
  source = "../storage"

  # Bucket names are global: the account id keeps two installations apart.
  bucket_prefix      = "livehouse-${data.aws_caller_identity.current.account_id}-${var.environment}"
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "data" {
  source = "../data"

  name                          = local.name
  environment                   = var.environment
  vpc_id                        = module.network.vpc_id
  cluster_security_group_id     = module.cluster.node_security_group_id
  database_subnet_group_name    = module.network.database_subnet_group_name
  elasticache_subnet_group_name = module.network.elasticache_subnet_group_name

  database_instance_class = var.database_instance_class
  database_storage_gb     = var.database_storage_gb
  multi_az                = var.multi_az
  backup_retention_days   = var.backup_retention_days
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = var.skip_final_snapshot
  cache_node_type         = var.cache_node_type
  cache_nodes             = var.cache_nodes

  tags = local.tags
}

module "identities" {
  source = "../identities"

  cluster_name          = module.cluster.cluster_name
  namespace             = local.namespace
  region                = var.account.region
  account_id            = data.aws_caller_identity.current.account_id
  environment           = var.environment
  thumbnails_bucket_arn = module.storage.thumbnails_bucket_arn
  archives_bucket_arn   = module.storage.archives_bucket_arn
  tags                  = local.tags
}
