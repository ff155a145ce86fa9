output "aws_load_balancer_controller_role_arn" {
  value = module.aws_load_balancer_controller.iam_role_arn
}

output "external_secrets_role_arn" {
  value = module.external_secrets.iam_role_arn
}

output "secrets_reader_role_arns" {
  description = "The roles the SecretStores name: the environment's namespace and the platform's (monitoring)."
  value       = { for name, r in aws_iam_role.secrets_reader : name => r.arn }
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
