# The workers: a launch template from the worker AMI and an Auto Scaling group
# that our autoscaler steers (no scaling policy here: demand is pending user
# servers, not CPU), with lifecycle hooks so the lifecycle handler drains a
# node before it goes and confirms one is a Ready swarm member when it comes.

data "aws_region" "current" {}

# Names and addresses only in the user-data: the join token and the Chef
# validator key stay in SSM.
locals {
  asg_name = var.asg_name
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    manager_addr         = var.manager_addr
    join_token_param     = var.join_token_parameter_name
    region               = data.aws_region.current.name
    efs_id               = var.efs_id
    efs_mount            = var.efs_mount
    boot_deadline        = var.boot_deadline_seconds
    chef_enroll          = var.chef_server_url != null ? "true" : "false"
    chef_server_url      = coalesce(var.chef_server_url, "none")
    chef_org             = var.chef_organization
    chef_validator_param = var.chef_validator_parameter_name
    chef_tls_cert_param  = var.chef_tls_cert_parameter_name
    chef_enroll_deadline = var.chef_enroll_deadline_seconds
  })
}

resource "aws_launch_template" "this" {
  name_prefix            = "${local.asg_name}-"
  description            = "swarmhub worker: joins the swarm at boot"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_group_ids
  user_data              = base64encode(local.user_data)
  ebs_optimized          = true
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  # IMDSv2 only, and one hop: a notebook container is one hop further than
  # the host, so user code cannot reach this instance's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/sda1"
    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = local.asg_name, "swarmhub:role" = "worker" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = local.asg_name })
  }

  tags = var.tags
}

# `destroy` without --purge sets running = false and the group goes with its
# instances: scale-in protection would keep every worker running (and billed)
# in a group of size 0. force_delete terminates them without the terminate
# hook, whose handler lives on the manager that is going too; homes are on EFS.
resource "aws_autoscaling_group" "this" {
  count = var.running ? 1 : 0

  name                = local.asg_name
  force_delete        = true
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.min_size
  max_size            = var.max_size
  health_check_type   = "EC2"
  # Never let the ASG pick a node to remove: the autoscaler protects every
  # node that hosts a user server and terminates only empty, drained ones.
  protect_from_scale_in = true
  # Workers become InService only once the manager's lifecycle handler sees
  # them Ready in the swarm, and the manager boots in the same apply: waiting
  # here could outlast Terraform's 10 minutes. deploy waits for the hub instead.
  wait_for_capacity_timeout = "0"
  # Rebalancing would terminate nodes with users on them.
  suspended_processes = ["AZRebalance"]

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # Hooks exist before the first instance launches, so none is missed.
  initial_lifecycle_hook {
    name                    = "${local.asg_name}-launch"
    lifecycle_transition    = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result          = "ABANDON"
    heartbeat_timeout       = var.lifecycle_heartbeat_timeout
    notification_target_arn = aws_sqs_queue.lifecycle.arn
    role_arn                = aws_iam_role.notification.arn
  }

  initial_lifecycle_hook {
    name                    = "${local.asg_name}-terminate"
    lifecycle_transition    = "autoscaling:EC2_INSTANCE_TERMINATING"
    default_result          = "CONTINUE"
    heartbeat_timeout       = var.lifecycle_heartbeat_timeout
    notification_target_arn = aws_sqs_queue.lifecycle.arn
    role_arn                = aws_iam_role.notification.arn
  }

  dynamic "warm_pool" {
    for_each = var.warm_pool_size > 0 ? [1] : []
    content {
      pool_state                  = var.warm_pool_state
      min_size                    = var.warm_pool_size
      max_group_prepared_capacity = var.max_size + var.warm_pool_size
      instance_reuse_policy {
        reuse_on_scale_in = false
      }
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Name = local.asg_name, "swarmhub:role" = "worker" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # The autoscaler owns the desired capacity; re-applying must not reset it.
    ignore_changes = [desired_capacity]
  }

  depends_on = [aws_iam_role_policy.notification]
}

################################################################################
# Lifecycle events -> SQS
################################################################################

resource "aws_sqs_queue" "lifecycle" {
  name                       = "${local.asg_name}-lifecycle"
  sqs_managed_sse_enabled    = true
  message_retention_seconds  = 86400
  visibility_timeout_seconds = 120
  receive_wait_time_seconds  = 20
  tags                       = var.tags
}

# Only TLS, whoever asks.
data "aws_iam_policy_document" "lifecycle_queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.lifecycle.arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "lifecycle" {
  queue_url = aws_sqs_queue.lifecycle.id
  policy    = data.aws_iam_policy_document.lifecycle_queue.json
}

data "aws_iam_policy_document" "notification_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["autoscaling.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "notification" {
  name               = "${local.asg_name}-lifecycle-notification"
  description        = "Lets the workers' ASG publish lifecycle events to its queue"
  assume_role_policy = data.aws_iam_policy_document.notification_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "notification" {
  statement {
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.lifecycle.arn]
  }
}

resource "aws_iam_role_policy" "notification" {
  name   = "publish-lifecycle-events"
  role   = aws_iam_role.notification.id
  policy = data.aws_iam_policy_document.notification.json
}
