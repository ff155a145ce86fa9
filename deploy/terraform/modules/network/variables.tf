variable "name" {
  description = "Name of the VPC and prefix of its resources."
  type        = string
}

variable "cidr" {
  description = "The VPC's CIDR. The manifests' network policies name it (deploy/k8s)."
  type        = string
}

variable "azs" {
  description = "Three availability zones."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3
    error_message = "Give exactly three availability zones."
  }
}

variable "private_subnets" {
  description = "Six private /20 subnets for nodes and pods, two per zone (livehouse plan-ips reads them)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnets) == 6 && alltrue([for c in var.private_subnets : endswith(c, "/20")])
    error_message = "Give six /20 subnets (4091 usable addresses each)."
  }
}

variable "public_subnets" {
  description = "One public subnet per zone: NAT gateways and internet-facing load balancers."
  type        = list(string)
}

variable "database_subnets" {
  description = "One isolated subnet per zone for PostgreSQL."
  type        = list(string)
}

variable "elasticache_subnets" {
  description = "One isolated subnet per zone for Redis."
  type        = list(string)
}

variable "endpoint_subnets" {
  description = "One per zone for the interface endpoints, inside the range the pods' NetworkPolicies allow for S3."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the VPC (cheaper) instead of one per zone (survives a zone outage)."
  type        = bool
}

variable "discovery_tag" {
  description = "Value of karpenter.sh/discovery on the private subnets (the cluster's name)."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
