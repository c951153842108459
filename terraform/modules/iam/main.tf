# One role per node kind, each with only what that node does:
#   worker:      read the join token and, with a Chef Server, its validator
#                key and certificate (nothing else of SSM), SSM sessions
#   manager:     steer the workers' ASG only, consume its lifecycle queue,
#                publish the join token, read the OAuth secret, take over the
#                role's network interface and state volume, SSM sessions
#   chef server: write its own keys under <name>/chef-server/, SSM sessions
# Shell access is SSM Session Manager, never SSH. Not through the managed
# AmazonSSMManagedInstanceCore: it grants ssm:GetParameter(s) on every
# parameter, so a worker could read the manager's and the Chef Server's
# secrets. The session_manager document below is its session part only.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  # Built from the name, so the policy needs no reference to the group itself
  # (the group needs the workers' instance profile from here).
  worker_asg_arn = "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${var.worker_asg_name}"
  instance_arns  = "arn:${local.partition}:ec2:${local.region}:${local.account}:instance/*"
  # Parameter names start with "/", which the ARN drops.
  parameter_arn_prefix = "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter"
  chef_ssm_prefix      = coalesce(var.chef_ssm_prefix, "/${var.name}/chef-server")
  worker_chef_parameter_arns = [
    for name in var.worker_chef_parameter_names : "${local.parameter_arn_prefix}${name}"
  ]

  roles = merge(
    { worker = "swarm worker", manager = "swarm manager and hub" },
    var.chef_server_enabled ? { chef_server = "chef server" } : {},
  )
}

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name               = "${var.name}-${replace(each.key, "_", "-")}"
  description        = "${var.name} ${each.value}"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = var.tags
}

# Session Manager (and the agent's registration), nothing of Parameter Store.
data "aws_iam_policy_document" "session_manager" {
  #checkov:skip=CKV_AWS_111:The agent's registration and session channels have no resource-level permissions
  #checkov:skip=CKV_AWS_356:The agent's registration and session channels have no resource-level permissions
  statement {
    sid = "SessionManagerAgent"
    actions = [
      "ssm:UpdateInstanceInformation",
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
      "ec2messages:AcknowledgeMessage",
      "ec2messages:DeleteMessage",
      "ec2messages:FailMessage",
      "ec2messages:GetEndpoint",
      "ec2messages:GetMessages",
      "ec2messages:SendReply",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "session_manager" {
  for_each = local.roles

  name   = "session-manager"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.session_manager.json
}

resource "aws_iam_instance_profile" "this" {
  for_each = local.roles

  name = "${var.name}-${replace(each.key, "_", "-")}"
  role = aws_iam_role.this[each.key].name
  tags = var.tags
}

################################################################################
# Worker: read the join token (and what enrollment needs), nothing else
################################################################################

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadJoinToken"
    actions   = ["ssm:GetParameter"]
    resources = [var.join_token_parameter_arn]
  }

  # Enrollment: the organisation's validator key (a SecureString under the
  # account's aws/ssm key, which SSM uses for any principal allowed to read
  # the parameter) and the server's certificate, by exact name. Never the
  # admin key next to them.
  dynamic "statement" {
    for_each = var.chef_server_enabled && length(local.worker_chef_parameter_arns) > 0 ? [1] : []
    content {
      sid       = "ReadChefEnrollment"
      actions   = ["ssm:GetParameter"]
      resources = local.worker_chef_parameter_arns
    }
  }

  statement {
    sid       = "DecryptJoinToken"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = [var.join_token_parameter_arn]
    }
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "swarm-worker"
  role   = aws_iam_role.this["worker"].id
  policy = data.aws_iam_policy_document.worker.json
}

################################################################################
# Manager: its own ASG, its queue, the join token, the role's ENI and volume
################################################################################

data "aws_iam_policy_document" "manager" {
  statement {
    sid = "SteerWorkerGroup"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:SetInstanceProtection",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
      "autoscaling:CompleteLifecycleAction",
      "autoscaling:RecordLifecycleActionHeartbeat",
    ]
    resources = [local.worker_asg_arn]
  }

  # Describe calls support no resource-level permissions.
  statement {
    sid = "Describe"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLifecycleHooks",
      "autoscaling:DescribeWarmPool",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeVolumes",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ConsumeLifecycleQueue"
    # ChangeMessageVisibility: a long drain keeps its message hidden instead
    # of a second handler picking it up after the queue's visibility timeout.
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [var.lifecycle_queue_arn]
  }

  statement {
    sid       = "PublishJoinToken"
    actions   = ["ssm:PutParameter"]
    resources = [var.join_token_parameter_arn]
  }

  statement {
    sid       = "ReadOAuthSecret"
    actions   = ["ssm:GetParameter"]
    resources = [var.github_client_secret_parameter_arn]
  }

  statement {
    sid       = "UseKeyForTheTwoParameters"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = [var.join_token_parameter_arn, var.github_client_secret_parameter_arn]
    }
  }

  # The hub's config, by the version the launch template names.
  statement {
    sid       = "ReadHubConfig"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [var.hub_config_object_arn]
  }

  statement {
    sid       = "UseKeyForTheHubConfig"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = [var.hub_config_object_arn]
    }
  }

  # Taking over the role after a replacement: its address and its state.
  statement {
    sid       = "TakeOverRoleInterfaceAndVolume"
    actions   = ["ec2:AttachNetworkInterface", "ec2:AttachVolume"]
    resources = [var.manager_network_interface_arn, var.manager_state_volume_arn]
  }

  statement {
    sid       = "AttachToManagerInstancesOnly"
    actions   = ["ec2:AttachNetworkInterface", "ec2:AttachVolume"]
    resources = [local.instance_arns]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/swarmhub:role"
      values   = ["manager"]
    }
  }

  # EC2 needs a grant on the key to attach the encrypted state volume.
  statement {
    sid       = "StateVolumeKeyGrant"
    actions   = ["kms:CreateGrant"]
    resources = [var.kms_key_arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "manager" {
  name   = "swarm-manager"
  role   = aws_iam_role.this["manager"].id
  policy = data.aws_iam_policy_document.manager.json
}

################################################################################
# Chef Server: publish its admin and validator keys, nothing else
################################################################################

# Its first boot puts <name>/chef-server/{admin-key,validator-key} as
# SecureStrings and <name>/chef-server/tls-cert as a String (the account's aws/ssm key, usable through SSM by the
# account's principals); without this it could not, and no node could enroll.
data "aws_iam_policy_document" "chef_server" {
  count = var.chef_server_enabled ? 1 : 0

  statement {
    sid       = "PublishItsKeys"
    actions   = ["ssm:PutParameter"]
    resources = ["${local.parameter_arn_prefix}${local.chef_ssm_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "chef_server" {
  count = var.chef_server_enabled ? 1 : 0

  name   = "chef-server"
  role   = aws_iam_role.this["chef_server"].id
  policy = data.aws_iam_policy_document.chef_server[0].json
}
