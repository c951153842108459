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
  # EC2 refuses user-data over 16 KiB (raw, before base64); moto does not.
  user_data_limit = 16384
  # The hub config (rosters and all, any size) is an S3 object, not part of
  # the user-data: the user-data names its exact version and SHA-256, so a
  # changed config is still a new launch template version (an instance
  # refresh, docs/decisions/0010-*.md) and a boot reads exactly the config it
  # was launched for (docs/decisions/0060-*.md).
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
    hub_config_bucket   = aws_s3_bucket.config.id
    hub_config_key      = aws_s3_object.hub_config.key
    hub_config_version  = aws_s3_object.hub_config.version_id
    hub_config_sha256   = sha256(var.hub_config)
  })
  # gzip: the boot script alone is near the limit; cloud-init reads gzipped
  # user-data as it is (it checks for gzip's magic bytes and decompresses).
  user_data_gzip_b64 = base64gzip(local.user_data)
  # The raw size EC2 counts: base64's 4 characters per 3 bytes (rounded up).
  user_data_bytes = ceil(length(local.user_data_gzip_b64) * 3 / 4)
}

# The hub's config, read by the manager at its first boot. No secret is in it
# (the model holds none); encrypted with the fleet's key all the same.
resource "aws_s3_bucket" "config" {
  #checkov:skip=CKV_AWS_18:One small object read by one role; CloudTrail data events cover access if wanted
  #checkov:skip=CKV_AWS_144:The object is rendered from swarmhub.yaml by every deploy; a replica adds nothing
  #checkov:skip=CKV2_AWS_62:Nothing reacts to the object: the launch template names its version
  bucket_prefix = "${var.name}-hub-config-"
  # `destroy --purge` removes it with every version; a plain destroy keeps it.
  force_destroy = true
  tags          = merge(local.tags, { Name = "${local.name}-config" })
}

resource "aws_s3_bucket_versioning" "config" {
  bucket = aws_s3_bucket.config.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "config" {
  bucket = aws_s3_bucket.config.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

resource "aws_s3_bucket_public_access_block" "config" {
  bucket                  = aws_s3_bucket.config.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "config" {
  bucket = aws_s3_bucket.config.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Old versions: what earlier launch template versions named; a month is
# longer than any instance refresh.
resource "aws_s3_bucket_lifecycle_configuration" "config" {
  bucket = aws_s3_bucket.config.id
  rule {
    id     = "old-configs"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_object" "hub_config" {
  bucket       = aws_s3_bucket.config.id
  key          = "hub-config.json"
  content      = var.hub_config
  content_type = "application/json"
  kms_key_id   = var.kms_key_arn
  # A version id to name in the user-data: versioning must be on first.
  depends_on = [aws_s3_bucket_versioning.config]
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

  # AWS associates an address only in a VPC with an internet gateway, and
  # will not detach the gateway while the address is mapped.
  depends_on = [var.internet_gateway_id]
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
  user_data              = local.user_data_gzip_b64
  ebs_optimized          = true
  update_default_version = true

  lifecycle {
    # Checked at plan time, before anything is applied: EC2 would refuse the
    # launch only when the group starts an instance.
    precondition {
      condition     = local.user_data_bytes <= local.user_data_limit
      error_message = "The manager's user-data is ${local.user_data_bytes} bytes (gzipped), above EC2's limit of ${local.user_data_limit}: nothing of the config's size may ride in it (the hub config is the S3 object aws_s3_object.hub_config)."
    }
  }

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
