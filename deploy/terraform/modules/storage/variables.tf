variable "bucket_prefix" {
  description = "Globally unique prefix of the bucket names, e.g. livehouse-111122223333-dev."
  type        = string
}

variable "log_retention_days" {
  description = "ALB access logs are deleted after this many days."
  type        = number
  default     = 90
}

variable "archive_infrequent_access_days" {
  description = "Video archives move to S3 Standard-IA after this many days."
  type        = number
  default     = 30
}

variable "tags" {
  type    = map(string)
  default = {}
}
