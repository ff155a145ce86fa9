# The environment's own Route 53 zone, delegated from the parent by NS records, and a certificate for the hosts
# in it. ExternalDNS may change records in this zone only (modules/identities), so a mistake in one environment
# can never touch the parent zone or the other environment's names.

data "aws_route53_zone" "parent" {
  name         = var.parent_zone_name
  private_zone = false
}

resource "aws_route53_zone" "sub" {
  name    = var.zone_name
  comment = "livehouse ${var.environment}: written by ExternalDNS"
  tags    = var.tags
}

resource "aws_route53_record" "delegation" {
  zone_id = data.aws_route53_zone.parent.zone_id
  name    = aws_route53_zone.sub.name
  type    = "NS"
  ttl     = 300
  records = aws_route53_zone.sub.name_servers
}

resource "aws_acm_certificate" "this" {
  domain_name               = var.zone_name
  subject_alternative_names = ["*.${var.zone_name}"]
  validation_method         = "DNS"
  tags                      = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = {
    for o in aws_acm_certificate.this.domain_validation_options : o.domain_name => {
      name   = o.resource_record_name
      type   = o.resource_record_type
      record = o.resource_record_value
    }
  }

  zone_id         = aws_route53_zone.sub.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 300
  records         = [each.value.record]
  allow_overwrite = true

  # The sub-zone answers only once the parent delegates to it.
  depends_on = [aws_route53_record.delegation]
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# ExternalDNS's role, beside the zone it may write: ChangeResourceRecordSets on this zone's ARN only (the module's
# policy adds read-only List* on *, which ExternalDNS needs to find the zone). Upsert-only in its chart values.
module "external_dns_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                          = "${var.cluster_name}-external-dns"
  attach_external_dns_policy    = true
  external_dns_hosted_zone_arns = [aws_route53_zone.sub.arn]

  associations = {
    external_dns = {
      cluster_name    = var.cluster_name
      namespace       = "external-dns"
      service_account = "external-dns"
    }
  }

  tags = var.tags
}
