# What an environment root sets. The defaults are prod's posture (a NAT gateway per zone, Multi-AZ, deletion
# protection, a final snapshot, developers read-only), so a new environment that forgets a setting is protected
# rather than exposed; envs/dev turns them down for cost.

variable "environment" {
  description = "dev or prod: names the cluster (livehouse-<environment>), namespace, buckets and secrets."
  type        = string
}

variable "account" {
  description = "The operator's values for this account (terraform.tfvars.example)."
  type = object({
    region                = string
    parent_zone_name      = string
    admin_cidrs           = list(string)
    sre_role_arn          = string
    developers_role_arn   = string
    image_repository_name = optional(string, "livehouse")
    # The account that holds it (deploy/terraform/global), when it is not this one.
    image_registry_id = optional(string)
  })
}

variable "zone_label" {
  description = "The sub-zone's first label under parent_zone_name (prod: k8s.<parent>)."
  type        = string
  default     = "k8s"
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "private_subnets" {
  description = "Six /20s for nodes and pods: 4091 usable each, 24546 in all (livehouse plan-ips --from reads these)."
  type        = list(string)
  default     = ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20", "10.0.64.0/20", "10.0.80.0/20"]
}

variable "public_subnets" {
  type    = list(string)
  default = ["10.0.97.0/24", "10.0.98.0/24", "10.0.99.0/24"]
}

variable "endpoint_subnets" {
  description = "The interface endpoints' (S3, ECR, STS): 10.0.96.0/24, which the pods' NetworkPolicies allow for S3."
  type        = list(string)
  default     = ["10.0.96.0/26", "10.0.96.64/26", "10.0.96.128/26"]
}

variable "database_subnets" {
  type    = list(string)
  default = ["10.0.100.0/24", "10.0.101.0/24", "10.0.102.0/24"]
}

variable "elasticache_subnets" {
  type    = list(string)
  default = ["10.0.104.0/24", "10.0.105.0/24", "10.0.106.0/24"]
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper; a zone outage cuts the others' egress)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  type    = string
  default = "1.34"
}

variable "system_instance_types" {
  type    = list(string)
  default = ["m6i.large"]
}

variable "system_node_count" {
  type    = number
  default = 3
}

variable "deletion_protection" {
  description = "The cluster's and the database's."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete the database without a last snapshot."
  type        = bool
  default     = false
}

variable "developers_access" {
  description = "The developers role's EKS access policies (the SRE role is always cluster admin)."
  type = map(object({
    policy_arn   = string
    access_scope = object({ type = string, namespaces = optional(list(string)) })
  }))
  default = {
    # Read-only: the prod overlay binds the group developers to the view ClusterRole.
    view = {
      policy_arn   = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
      access_scope = { type = "cluster" }
    }
  }
}

variable "log_retention_days" {
  description = "ALB access logs."
  type        = number
  default     = 90
}

variable "database_instance_class" {
  type    = string
  default = "db.m7g.large"
}

variable "database_storage_gb" {
  type    = number
  default = 100
}

variable "multi_az" {
  description = "The database's standby in another zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  type    = number
  default = 14
}

variable "cache_node_type" {
  type    = string
  default = "cache.m7g.large"
}

variable "cache_nodes" {
  type    = number
  default = 2
}
