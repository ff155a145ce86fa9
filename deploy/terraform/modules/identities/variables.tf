variable "cluster_name" {
  type = string
}

variable "namespace" {
  description = "The livehouse namespace of this environment (livehouse-dev, livehouse-prod)."
  type        = string
}

variable "region" {
  type = string
}

variable "account_id" {
  type = string
}

variable "environment" {
  type = string
}

variable "thumbnails_bucket_arn" {
  type = string
}

variable "archives_bucket_arn" {
  type = string
}

variable "video_service_accounts" {
  description = "Service accounts of the video services that write archives."
  type        = list(string)
  default     = ["ingest"]
}

variable "log_group_name" {
  description = "The CloudWatch Logs group Fluent Bit writes (deploy/argocd/apps/addons/fluent-bit.yaml)."
  type        = string
  default     = "/livehouse/eks/containers"
}

variable "tags" {
  type    = map(string)
  default = {}
}
