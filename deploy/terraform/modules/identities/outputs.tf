output "aws_load_balancer_controller_role_arn" {
  value = module.aws_load_balancer_controller.iam_role_arn
}

output "external_secrets_role_arn" {
  value = module.external_secrets.iam_role_arn
}


output "fluent_bit_role_arn" {
  value = module.fluent_bit.iam_role_arn
}

output "thumbnail_role_arn" {
  value = module.thumbnail.iam_role_arn
}

output "ingest_role_arn" {
  value = module.ingest.iam_role_arn
}

output "namespace_secrets_reader_role_arn" {
  description = "The role the livehouse namespace's SecretStore names."
  value       = aws_iam_role.secrets_reader["livehouse-${var.environment}-external-secrets"].arn
}

output "platform_secrets_reader_role_arn" {
  description = "The role the monitoring namespace's SecretStore names."
  value       = aws_iam_role.secrets_reader["${var.cluster_name}-platform-external-secrets"].arn
}

output "log_group_name" {
  value = var.log_group_name
}
