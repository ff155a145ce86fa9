# The EKS cluster: API access by access entries only, a small managed node group for the add-ons (Argo CD,
# Karpenter, controllers), the VPC CNI with network policy and prefix delegation, the EBS CSI driver (its gp3
# StorageClass is a manifest, deploy/k8s/cluster, so that one owner manages it), the Pod Identity agent, and what
# Karpenter needs on the AWS side (controller role, node role and its access entry, interruption queue).

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.19.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  # Operators and CI reach the API from admin_cidrs; nodes use the private endpoint.
  endpoint_private_access      = true
  endpoint_public_access       = true
  endpoint_public_access_cidrs = var.admin_cidrs

  authentication_mode = "API"
  # Nobody gets admin for having run terraform apply: every human comes in through an access entry below.
  enable_cluster_creator_admin_permissions = false
  access_entries                           = var.access_entries

  deletion_protection = var.deletion_protection
  enabled_log_types   = ["api", "audit", "authenticator"]

  addons = {
    vpc-cni = {
      before_compute = true
      configuration_values = jsonencode({
        # NetworkPolicies (deploy/k8s) are enforced only with the network policy agent on.
        enableNetworkPolicy = "true"
        env = {
          # /28 prefixes per ENI: many more pods per node; livehouse plan-ips --prefix-delegation sizes the subnets.
          ENABLE_PREFIX_DELEGATION = "true"
          WARM_PREFIX_TARGET       = "1"
        }
      })
    }
    eks-pod-identity-agent = {
      before_compute = true
    }
    coredns    = {}
    kube-proxy = {}
    aws-ebs-csi-driver = {
      pod_identity_association = [{
        role_arn        = module.ebs_csi_pod_identity.iam_role_arn
        service_account = "ebs-csi-controller-sa"
      }]
    }
  }

  eks_managed_node_groups = {
    system = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.system_instance_types
      min_size       = var.system_node_count
      max_size       = var.system_node_count + 1
      desired_size   = var.system_node_count
      # Karpenter and the controllers run here, never on nodes Karpenter manages.
      labels = {
        "livehouse.dev/pool" = "system"
      }
    }
  }

  node_security_group_tags = {
    # Karpenter's nodes join this security group (EC2NodeClass securityGroupSelectorTerms).
    "karpenter.sh/discovery" = var.name
  }

  tags = var.tags
}

module "ebs_csi_pod_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.8.1"

  name                      = "${var.name}-ebs-csi"
  attach_aws_ebs_csi_policy = true

  tags = var.tags
}

module "karpenter" {
  source  = "terraform-aws-modules/eks/aws//modules/karpenter"
  version = "21.19.0"

  cluster_name = module.eks.cluster_name

  # The controller's role, bound by Pod Identity to kube-system/karpenter.
  create_pod_identity_association = true
  namespace                       = "kube-system"
  service_account                 = "karpenter"

  # The node role's name is what the EC2NodeClass names (spec.role); its access entry lets the nodes join.
  node_iam_role_use_name_prefix = false
  node_iam_role_name            = "KarpenterNodeRole-${var.name}"
  create_access_entry           = true
  node_iam_role_additional_policies = {
    AmazonSSMManagedInstanceCore = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
  }

  queue_name = "${var.name}-karpenter"

  tags = var.tags
}
