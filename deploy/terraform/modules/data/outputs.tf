output "database_address" {
  value = module.postgres.db_instance_address
}

output "redis_address" {
  value = module.redis.replication_group_primary_endpoint_address
}

output "secret_arns" {
  description = "The Secrets Manager entries External Secrets reads, by key."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_names" {
  value = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}
