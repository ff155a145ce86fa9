variable "region" {
  description = "The AWS region (the manifests assume ap-northeast-1 until the generated values replace it)."
  type        = string
  default     = "ap-northeast-1"
}

variable "parent_zone_name" {
  description = "Your existing public Route 53 zone, e.g. livehouse.example.com; the environment's sub-zone is delegated from it."
  type        = string
}

variable "admin_cidrs" {
  description = "CIDRs that may reach the cluster's API endpoint (operators, CI)."
  type        = list(string)
}

variable "sre_role_arn" {
  description = "The IAM role SRE assume: cluster admin (and the identity that runs terraform apply)."
  type        = string
}

variable "developers_role_arn" {
  description = "The IAM role developers assume."
  type        = string
}

variable "image_repository_name" {
  description = "The ECR repository made by deploy/terraform/global."
  type        = string
  default     = "livehouse"
}
