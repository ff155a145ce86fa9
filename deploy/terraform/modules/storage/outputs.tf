output "alb_logs_bucket" {
  value = module.alb_logs.s3_bucket_id
}

output "thumbnails_bucket" {
  value = module.thumbnails.s3_bucket_id
}

output "thumbnails_bucket_arn" {
  value = module.thumbnails.s3_bucket_arn
}

output "archives_bucket" {
  value = module.archives.s3_bucket_id
}

output "archives_bucket_arn" {
  value = module.archives.s3_bucket_arn
}
