# The VPC: three availability zones, six private /20 subnets for nodes and pods (4091 usable addresses each,
# 24546 in all: the reference ran out at 11 left per subnet), small public subnets for NAT and internet-facing
# load balancers, and isolated subnets for the database, the cache and the interface endpoints. The endpoints keep
# S3, ECR and STS traffic off the NAT gateways; they sit in their own small subnets (endpoint_subnets, inside
# 10.0.96.0/24) because the pods' NetworkPolicies admit S3 by that range (deploy/k8s/platform/networkpolicies.yaml).

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "6.6.0"

  name = var.name
  cidr = var.cidr
  azs  = var.azs

  # Six /20s over three zones: the module assigns them round-robin (a, b, c, a, b, c).
  private_subnets     = var.private_subnets
  public_subnets      = var.public_subnets
  database_subnets    = var.database_subnets
  elasticache_subnets = var.elasticache_subnets
  # No route out: only the endpoints' network interfaces live here.
  intra_subnets       = var.endpoint_subnets
  intra_subnet_suffix = "endpoints"

  create_database_subnet_group    = true
  create_elasticache_subnet_group = true

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
    # Karpenter launches nodes in the subnets carrying this tag (EC2NodeClass subnetSelectorTerms).
    "karpenter.sh/discovery" = var.discovery_tag
  }

  tags = var.tags
}

module "vpc_endpoints" {
  source  = "terraform-aws-modules/vpc/aws//modules/vpc-endpoints"
  version = "6.6.0"

  vpc_id = module.vpc.vpc_id

  create_security_group      = true
  security_group_name_prefix = "${var.name}-vpc-endpoints-"
  security_group_description = "HTTPS from inside the VPC to the interface endpoints"
  security_group_rules = {
    ingress_https = {
      description = "HTTPS from the VPC"
      cidr_blocks = [module.vpc.vpc_cidr_block]
    }
  }

  endpoints = {
    # An interface endpoint, not the (free) gateway: with private DNS, s3.<region>.amazonaws.com resolves to its
    # addresses in the endpoint subnets, which a NetworkPolicy can name; a gateway endpoint routes to S3's public
    # addresses, which it cannot (ingest, allowed S3 only, could not reach its bucket). No gateway beside it, so
    # private DNS answers every resolver in the VPC.
    s3 = {
      service             = "s3"
      private_dns_enabled = true
      dns_options = {
        private_dns_only_for_inbound_resolver_endpoint = false
      }
      subnet_ids = local.endpoint_subnet_ids
      tags       = { Name = "${var.name}-s3" }
    }
    ecr_api = {
      service             = "ecr.api"
      private_dns_enabled = true
      subnet_ids          = local.endpoint_subnet_ids
      tags                = { Name = "${var.name}-ecr-api" }
    }
    ecr_dkr = {
      service             = "ecr.dkr"
      private_dns_enabled = true
      subnet_ids          = local.endpoint_subnet_ids
      tags                = { Name = "${var.name}-ecr-dkr" }
    }
    # Pod Identity and the SDKs exchange credentials through STS.
    sts = {
      service             = "sts"
      private_dns_enabled = true
      subnet_ids          = local.endpoint_subnet_ids
      tags                = { Name = "${var.name}-sts" }
    }
  }

  tags = var.tags
}

locals {
  # One endpoint interface per zone, in the endpoint subnets.
  endpoint_subnet_ids = module.vpc.intra_subnets
}

# The public ALB's security group: HTTPS from anywhere, plain HTTP only from inside the VPC (it redirects to HTTPS).
# The Ingress names it (alb.ingress.kubernetes.io/security-groups) and the controller manages the backend rules.
resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "The livehouse ALB: HTTPS from the internet"
  vpc_id      = module.vpc.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http_redirect" {
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the VPC, redirected to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = module.vpc.vpc_cidr_block
}

resource "aws_vpc_security_group_egress_rule" "alb_to_vpc" {
  security_group_id = aws_security_group.alb.id
  description       = "To the pods (target type ip)"
  ip_protocol       = "-1"
  cidr_ipv4         = module.vpc.vpc_cidr_block
}
