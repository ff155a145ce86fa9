variable "name" {
  description = "The cluster's name."
  type        = string
}

variable "kubernetes_version" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  description = "The private subnets (nodes, pods and the control plane's network interfaces)."
  type        = list(string)
}

variable "admin_cidrs" {
  description = "Addresses that may reach the cluster's public API endpoint (the operators' and CI's)."
  type        = list(string)
}

variable "access_entries" {
  description = "Who may use the cluster: IAM principals, their EKS access policies and Kubernetes groups."
  type = map(object({
    principal_arn     = string
    kubernetes_groups = optional(list(string))
    policy_associations = optional(map(object({
      policy_arn = string
      access_scope = object({
        type       = string
        namespaces = optional(list(string))
      })
    })), {})
  }))
}

variable "system_instance_types" {
  description = "Instance types of the managed node group that runs the add-ons."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "system_node_count" {
  type    = number
  default = 2
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster until this is turned off."
  type        = bool
}

variable "tags" {
  type    = map(string)
  default = {}
}
