# PostgreSQL (one database; each service owns its schema) and Redis (rate limits, event bus, chat fan-out),
# reachable only from the cluster's nodes, and the Secrets Manager entries External Secrets copies into each
# namespace. No password reaches the state: the database's is ephemeral and written only to write-only arguments.

data "aws_region" "current" {}

# ---- PostgreSQL -------------------------------------------------------------------------------------------------

resource "aws_security_group" "database" {
  name_prefix = "${var.name}-postgres-"
  description = "PostgreSQL: from the cluster's nodes only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-postgres" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "database_from_cluster" {
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the cluster's nodes and pods"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.cluster_security_group_id
}

ephemeral "random_password" "database" {
  length  = 40
  special = false
}

module "postgres" {
  source  = "terraform-aws-modules/rds/aws"
  version = "7.2.0"

  identifier = var.name

  engine               = "postgres"
  engine_version       = var.postgres_version
  family               = "postgres${var.postgres_version}"
  major_engine_version = var.postgres_version
  instance_class       = var.database_instance_class

  allocated_storage     = var.database_storage_gb
  max_allocated_storage = var.database_storage_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = "livehouse"
  username = "livehouse"
  port     = 5432

  # The password is generated here and written once (bump database_password_version to rotate).
  manage_master_user_password = false
  password_wo                 = ephemeral.random_password.database.result
  password_wo_version         = var.database_password_version

  multi_az               = var.multi_az
  db_subnet_group_name   = var.database_subnet_group_name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false

  backup_retention_period = var.backup_retention_days
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = var.skip_final_snapshot
  copy_tags_to_snapshot   = true

  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  parameters = [
    {
      # TLS only between pods and the database.
      name  = "rds.force_ssl"
      value = "1"
    }
  ]

  tags = var.tags
}

# ---- Redis ------------------------------------------------------------------------------------------------------

resource "random_password" "redis" {
  length  = 64
  special = false
}

module "redis" {
  source  = "terraform-aws-modules/elasticache/aws"
  version = "1.10.3"

  replication_group_id = var.name
  description          = "livehouse ${var.environment}: limits, event bus, chat fan-out"

  engine         = "redis"
  engine_version = "7.1"
  node_type      = var.cache_node_type

  num_cache_clusters         = var.cache_nodes
  multi_az_enabled           = var.cache_nodes > 1
  automatic_failover_enabled = var.cache_nodes > 1

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.redis.result

  snapshot_retention_limit = var.backup_retention_days

  create_subnet_group = false
  subnet_group_name   = var.elasticache_subnet_group_name

  vpc_id = var.vpc_id
  security_group_rules = {
    ingress_cluster = {
      description                  = "Redis from the cluster's nodes and pods"
      referenced_security_group_id = var.cluster_security_group_id
    }
  }

  create_parameter_group = true
  parameter_group_family = "redis7"
  parameters = [
    {
      name  = "maxmemory-policy"
      value = "noeviction"
    }
  ]

  tags = var.tags
}

# ---- Secrets External Secrets reads -------------------------------------------------------------------------------
# Plain strings under livehouse/<env>/, the keys the manifests' ExternalSecrets name (the namespace's SecretStore adds
# the prefix): internal-key, redis-url, <service>/database-url, auth/signing-key.

ephemeral "random_password" "internal_key" {
  length  = 64
  special = false
}

locals {
  database_url = "postgres://livehouse:${ephemeral.random_password.database.result}@${module.postgres.db_instance_address}:5432/livehouse?sslmode=require"
  secrets = merge(
    {
      "internal-key"     = "the key that signs internal tokens between services"
      "redis-url"        = "rediss:// URL of the Redis replication group, with its auth token"
      "auth/signing-key" = "auth's ES256 signing key (PKCS8 PEM), put by the operator"
    },
    { for s in var.database_services : "${s}/database-url" => "${s}'s PostgreSQL URL" },
  )
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets

  name                    = "livehouse/${var.environment}/${each.key}"
  description             = "livehouse ${var.environment}: ${each.value} (read by External Secrets)"
  recovery_window_in_days = var.deletion_protection ? 30 : 0
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "internal_key" {
  secret_id                = aws_secretsmanager_secret.this["internal-key"].id
  secret_string_wo         = ephemeral.random_password.internal_key.result
  secret_string_wo_version = var.internal_key_version
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id                = aws_secretsmanager_secret.this["redis-url"].id
  secret_string_wo         = "rediss://:${random_password.redis.result}@${module.redis.replication_group_primary_endpoint_address}:6379"
  secret_string_wo_version = 1
}

# Every service connects as the master user until per-service roles exist (creating them needs SQL from inside the
# VPC, which Terraform here does not reach); each service still owns its own schema.
resource "aws_secretsmanager_secret_version" "database_url" {
  for_each = toset(var.database_services)

  secret_id                = aws_secretsmanager_secret.this["${each.key}/database-url"].id
  secret_string_wo         = local.database_url
  secret_string_wo_version = var.database_password_version
}

# auth/signing-key gets no value here, so that the private key never sits in the state:
# `aws secretsmanager put-secret-value` it once (README, "Create the infrastructure").
