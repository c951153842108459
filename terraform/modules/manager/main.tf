# The manager: the hub node, from the worker AMI with role=manager.
#
# Self-healing: an Auto Scaling group of exactly one instance replaces a dead
# manager. What makes the replacement the *same* manager follows the role, not
# the instance, and is attached by the manager's user-data at boot:
#   - a network interface with a fixed private address (what workers join, so
#     they rejoin by themselves) carrying the hub's Elastic IP (stable public
#     address, the DNS record points at it);
#   - an encrypted EBS volume with the swarm's raft state, the hub database
#     (never on NFS) and the TLS certificates.
# Both live in one AZ, so the group is pinned to that AZ (see README).

data "aws_region" "current" {}

data "aws_subnet" "public" {
  id = var.public_subnet_id
}

data "aws_subnet" "private" {
  id = var.subnet_id
}

locals {
  name = "${var.name}-manager"
  az   = data.aws_subnet.private.availability_zone
  tags = merge(var.tags, { "swarmhub:role" = "manager" })
  # The hub config goes in gzip+base64: user-data is limited to 16 KiB.
  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region              = data.aws_region.current.name
    name                = var.name
    manager_ip          = aws_network_interface.this.private_ip
    eni_id              = aws_network_interface.this.id
    prefix_length       = split("/", data.aws_subnet.public.cidr_block)[1]
    gateway             = cidrhost(data.aws_subnet.public.cidr_block, 1)
    volume_id           = aws_ebs_volume.state.id
    state_dir           = var.state_dir
    efs_id              = var.efs_id
    efs_mount           = var.efs_mount
    join_token_param    = var.join_token_parameter_name
    github_secret_param = var.github_client_secret_parameter_name
    kms_key_arn         = var.kms_key_arn
    worker_asg_name     = var.worker_asg_name
    queue_url           = var.lifecycle_queue_url
    domain              = var.domain == null ? "" : var.domain
    letsencrypt_email   = var.letsencrypt_email == null ? "" : var.letsencrypt_email
    hub_config_b64gz    = base64gzip(var.hub_config)
  })
}

resource "aws_network_interface" "this" {
  subnet_id       = var.public_subnet_id
  security_groups = concat([var.hub_security_group_id], var.node_security_group_ids)
  description     = "${local.name}: the hub's stable address, attached by the current manager"
  tags            = merge(local.tags, { Name = local.name })

  lifecycle {
    precondition {
      condition     = data.aws_subnet.public.availability_zone == local.az
      error_message = "The manager's public and private subnets must be in the same AZ."
    }
  }
}

resource "aws_eip" "this" {
  #checkov:skip=CKV2_AWS_19:The Elastic IP is on the role's network interface, which the current manager instance attaches at boot
  domain            = "vpc"
  network_interface = aws_network_interface.this.id
  tags              = merge(local.tags, { Name = local.name })
}

resource "aws_ebs_volume" "state" {
  #checkov:skip=CKV2_AWS_2:Attached by the manager's user-data (aws ec2 attach-volume), not by an aws_volume_attachment
  availability_zone = local.az
  size              = var.state_volume_size
  type              = "gp3"
  encrypted         = true
  kms_key_id        = var.kms_key_arn
  tags              = merge(local.tags, { Name = "${local.name}-state" })
}

resource "aws_launch_template" "this" {
  name_prefix            = "${local.name}-"
  description            = "swarmhub manager: takes over the role's interface and state, runs the hub"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.node_security_group_ids
  user_data              = base64encode(local.user_data)
  ebs_optimized          = true
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  # One hop: no container reaches the role through IMDS (the proxy faces the
  # internet). The hub and the lifecycle handler get the role's credentials
  # from a host-side file instead (swarmhub-aws-credentials, decision 0014).
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
    tags          = merge(local.tags, { Name = local.name })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = local.name })
  }

  tags = local.tags
}

# `destroy` without --purge sets running = false: the instance goes, the
# role's interface, address and state stay for the next deploy.
resource "aws_autoscaling_group" "this" {
  count = var.running ? 1 : 0

  name                = local.name
  vpc_zone_identifier = [var.subnet_id]
  min_size            = 1
  max_size            = 1
  desired_capacity    = 1
  health_check_type   = "EC2"
  # The old instance must release the interface and volume before the new
  # one can attach them; user-data retries for five minutes.
  default_instance_warmup = 300

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # How a new AMI or a new config (both in the launch template: the image and
  # the user-data with hub_config) reaches the running hub: `deploy` makes a
  # new template version and this refresh replaces the one manager. Minimum
  # healthy 0: the old instance must let go of the role's interface and
  # volume before the new one can take them (docs/decisions/0010-*.md).
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 0
      max_healthy_percentage = 100
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = local.name })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
