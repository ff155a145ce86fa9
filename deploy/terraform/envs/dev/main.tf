# livehouse dev: its own VPC, cluster, zone, buckets, database and cache. Small and cheap: one NAT gateway,
# single-AZ database and cache, no deletion protection. Developers may change the livehouse-dev namespace.

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
  environment = "dev"
  name        = "livehouse-dev"
  namespace   = "livehouse-dev"
  zone_name   = "k8s-dev.${var.parent_zone_name}"
  tags = {
    "livehouse.dev/environment" = "dev"
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

  single_nat_gateway = true
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
  system_node_count     = 2
  deletion_protection   = false

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
    developers = {
      principal_arn     = var.developers_role_arn
      kubernetes_groups = ["developers"]
      policy_associations = {
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

  bucket_prefix      = "livehouse-${data.aws_caller_identity.current.account_id}-dev"
  log_retention_days = 30
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

  database_instance_class = "db.t4g.medium"
  database_storage_gb     = 20
  multi_az                = false
  backup_retention_days   = 1
  deletion_protection     = false
  skip_final_snapshot     = true

  cache_node_type = "cache.t4g.small"
  cache_nodes     = 1

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
