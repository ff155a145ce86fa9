# What the Argo CD bootstrap and the overlays need; the roots pass them on as one output, `livehouse`.

output "environment" {
  value = var.environment
}

output "namespace" {
  value = local.namespace
}

output "region" {
  value = var.account.region
}

output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

output "cluster_name" {
  value = module.cluster.cluster_name
}

output "cluster_endpoint" {
  value = module.cluster.cluster_endpoint
}

output "vpc_id" {
  value = module.network.vpc_id
}

output "vpc_cidr" {
  value = module.network.vpc_cidr_block
}

output "private_subnet_cidrs" {
  value = module.network.private_subnet_cidrs
}

output "image_repository" {
  value = data.aws_ecr_repository.livehouse.repository_url
}

output "zone_name" {
  value = module.dns.zone_name
}

output "zone_id" {
  value = module.dns.zone_id
}

output "api_host" {
  value = "api.${module.dns.zone_name}"
}

output "certificate_arn" {
  value = module.dns.certificate_arn
}

output "alb_security_group_id" {
  value = module.network.alb_security_group_id
}

output "alb_logs_bucket" {
  value = module.storage.alb_logs_bucket
}

output "thumbnails_bucket" {
  value = module.storage.thumbnails_bucket
}

output "archives_bucket" {
  value = module.storage.archives_bucket
}

output "karpenter_node_role_name" {
  value = module.cluster.karpenter_node_role_name
}

output "karpenter_queue_name" {
  value = module.cluster.karpenter_queue_name
}

output "role_arns" {
  description = "Pod Identity roles, already associated with their service accounts (shown for reference)."
  value = {
    aws_load_balancer_controller = module.identities.aws_load_balancer_controller_role_arn
    external_dns                 = module.dns.external_dns_role_arn
    external_secrets             = module.identities.external_secrets_role_arn
    fluent_bit                   = module.identities.fluent_bit_role_arn
    karpenter                    = module.cluster.karpenter_controller_role_arn
    thumbnail                    = module.identities.thumbnail_role_arn
    ingest                       = module.identities.ingest_role_arn
  }
}

output "secret_names" {
  description = "Secrets Manager entries for External Secrets (the SecretStore's prefix + remoteRef.key)."
  value       = module.data.secret_names
}

output "database_address" {
  value = module.data.database_address
}

output "redis_address" {
  value = module.data.redis_address
}

output "secrets_reader_role_arn" {
  description = "The role the namespace's SecretStore assumes (spec.provider.aws.role)."
  value       = module.identities.namespace_secrets_reader_role_arn
}

output "platform_secrets_reader_role_arn" {
  description = "The role the monitoring namespace's SecretStore assumes (kube-prometheus-stack's extraManifests)."
  value       = module.identities.platform_secrets_reader_role_arn
}

output "log_group_name" {
  description = "The CloudWatch Logs group Fluent Bit writes (its role may write nothing else)."
  value       = module.identities.log_group_name
}
