variable "environment" {
  type = string
}

variable "parent_zone_name" {
  description = "The existing public zone to delegate from, e.g. livehouse.example.com."
  type        = string
}

variable "zone_name" {
  description = "The environment's sub-zone, e.g. k8s.livehouse.example.com."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "cluster_name" {
  description = "The cluster whose ExternalDNS writes the zone."
  type        = string
}
