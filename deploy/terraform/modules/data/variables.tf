variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "cluster_security_group_id" {
  description = "The cluster's node security group: the only source allowed to reach PostgreSQL and Redis."
  type        = string
}

variable "database_subnet_group_name" {
  type = string
}

variable "elasticache_subnet_group_name" {
  type = string
}

variable "postgres_version" {
  type    = string
  default = "17"
}

variable "database_instance_class" {
  type = string
}

variable "database_storage_gb" {
  type = number
}

variable "multi_az" {
  type = bool
}

variable "backup_retention_days" {
  type = number
}

variable "deletion_protection" {
  description = "Protects the database (and keeps deleted secrets recoverable for 30 days)."
  type        = bool
}

variable "skip_final_snapshot" {
  description = "Delete the database without a final snapshot (dev only)."
  type        = bool
}

variable "database_password_version" {
  description = "Bump to generate and write a new database password."
  type        = number
  default     = 1
}

variable "internal_key_version" {
  description = "Bump to generate and write a new internal token key."
  type        = number
  default     = 1
}

variable "cache_node_type" {
  type = string
}

variable "cache_nodes" {
  description = "Primary plus replicas; more than one gives Multi-AZ with automatic failover."
  type        = number
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "database_services" {
  description = "The services with a PostgreSQL schema: each gets livehouse/<env>/<service>/database-url."
  type        = list(string)
  default     = ["auth", "user", "contents", "stamp", "point", "timeline", "chat", "thumbnail", "ingest", "payment"]
}
