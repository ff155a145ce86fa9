# livehouse prod: its own VPC, cluster, zone, buckets, database and cache. A NAT gateway per zone, Multi-AZ
# database and cache, deletion protection and a final snapshot. Only SRE may change anything; developers view.

data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_caller_identity" "current" {}

data "aws_ecr_repository" "livehouse" {
  name = var.image_repository_name
}

locals {
  environment = "prod"
  name        = "livehouse-prod"
  namespace   = "livehouse-prod"
  zone_name   = "k8s.${var.parent_zone_name}"
  tags = {
    "livehouse.dev/environment" = "prod"
    "managed-by"                = "terraform"
  }
}

module "network" {
  source = "../../modules/network"

  name = local.name
  cidr = "10.0.0.0/16"
  azs  = slice(data.aws_availability_zones.available.names, 0, 3)

  # Six /20s for nodes and pods: 4091 usable each, 24546 in all (livehouse plan-ips --from reads these).
  private_subnets     = ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"]
  public_subnets      = ["10.0.96.0/24", "10.0.97.0/24", "10.0.98.0/24"]
  database_subnets    = ["10.0.100.0/24", "10.0.101.0/24", "10.0.102.0/24"]
  elasticache_subnets = ["10.0.104.0/24", "10.0.105.0/24", "10.0.106.0/24"]

  single_nat_gateway = false
  discovery_tag      = local.name
}

module "cluster" {
  source = "../../modules/cluster"

  name               = local.name
  kubernetes_version = "1.34"
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  admin_cidrs        = var.admin_cidrs

  system_instance_types = ["m6i.large"]
  system_node_count     = 3
  deletion_protection   = true

  access_entries = {
    sre = {
      principal_arn     = var.sre_role_arn
      kubernetes_groups = ["sre"]
      policy_associations = {
        admin = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
    # Read-only: the prod overlay binds the group developers to the view ClusterRole.
    developers = {
      principal_arn     = var.developers_role_arn
      kubernetes_groups = ["developers"]
      policy_associations = {
        view = {
          policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
          access_scope = { type = "cluster" }
        }
      }
    }
  }

  tags = local.tags
}

module "dns" {
  source = "../../modules/dns"

  environment      = local.environment
  parent_zone_name = var.parent_zone_name
  zone_name        = local.zone_name
  cluster_name     = module.cluster.cluster_name
  tags             = local.tags
}

module "storage" {
  source = "../../modules/storage"

  bucket_prefix      = "livehouse-${data.aws_caller_identity.current.account_id}-prod"
  log_retention_days = 90
  tags               = local.tags
}

module "data" {
  source = "../../modules/data"

  name                          = local.name
  environment                   = local.environment
  vpc_id                        = module.network.vpc_id
  cluster_security_group_id     = module.cluster.node_security_group_id
  database_subnet_group_name    = module.network.database_subnet_group_name
  elasticache_subnet_group_name = module.network.elasticache_subnet_group_name

  database_instance_class = "db.m7g.large"
  database_storage_gb     = 100
  multi_az                = true
  backup_retention_days   = 14
  deletion_protection     = true
  skip_final_snapshot     = false

  cache_node_type = "cache.m7g.large"
  cache_nodes     = 2

  tags = local.tags
}

module "identities" {
  source = "../../modules/identities"

  cluster_name          = module.cluster.cluster_name
  namespace             = local.namespace
  region                = var.region
  account_id            = data.aws_caller_identity.current.account_id
  environment           = local.environment
  thumbnails_bucket_arn = module.storage.thumbnails_bucket_arn
  archives_bucket_arn   = module.storage.archives_bucket_arn
  tags                  = local.tags
}
