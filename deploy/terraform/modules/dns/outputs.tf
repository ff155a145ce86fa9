output "zone_id" {
  value = aws_route53_zone.sub.zone_id
}

output "zone_arn" {
  value = aws_route53_zone.sub.arn
}

output "zone_name" {
  value = aws_route53_zone.sub.name
}

output "certificate_arn" {
  description = "The validated certificate for the zone and *.zone (the Ingress's certificate-arn)."
  value       = aws_acm_certificate_validation.this.certificate_arn
}

output "external_dns_role_arn" {
  value = module.external_dns_pod_identity.iam_role_arn
}
