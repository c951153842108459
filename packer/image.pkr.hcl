# One template for every swarmhub AMI; what differs between images is data
# (images/<name>/image.pkrvars.hcl). Packer's Chef provisioners are archived
# upstream, so the cookbooks travel as a policy archive (`file`) and Cinc
# Client converges them in local mode (`shell`). See
# docs/decisions/0003-cinc-local-mode-from-a-shell-provisioner.md.

locals {
  # Tags on the AMI and its snapshots: how bake finds an image it already
  # built (input hash) and how prune tells our images apart.
  tags = {
    Name                       = var.ami_name
    "swarmhub:image"           = var.image_name
    "swarmhub:deployment"      = var.name_prefix
    "swarmhub:input-hash"      = var.input_hash
    "swarmhub:git-revision"    = var.git_revision
    "swarmhub:policy-revision" = var.policy_revision
    "swarmhub:cinc-version"    = var.cinc_version
    # Resolved by Packer at build time from the owner-pinned lookup below.
    "swarmhub:base-ami"      = "{{ .SourceAMI }}"
    "swarmhub:base-ami-name" = "{{ .SourceAMIName }}"
  }
  remote_dir = "/tmp/swarmhub"
}

source "amazon-ebs" "this" {
  region          = var.region
  instance_type   = var.instance_type
  ami_name        = var.ami_name
  ami_description = var.image_description
  ssh_username    = var.ssh_username

  iam_instance_profile = var.iam_instance_profile

  source_ami_filter {
    filters = {
      name                = var.base_ami_name
      root-device-type    = "ebs"
      virtualization-type = "hvm"
      architecture        = "x86_64"
    }
    # Only the pinned owner's images: a look-alike name from another
    # account can never become our base.
    owners      = [var.base_ami_owner]
    most_recent = true
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.root_volume_size
    volume_type           = "gp3"
    throughput            = 125
    iops                  = 3000
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  # IMDSv2 only, on the build instance and (imds_support) on every instance
  # launched from the AMI.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  deprecate_at = var.deprecate_at

  tags          = local.tags
  snapshot_tags = local.tags
  run_tags = {
    Name                  = "packer-${var.ami_name}"
    "swarmhub:deployment" = var.name_prefix
  }
}

build {
  name    = "swarmhub"
  sources = ["source.amazon-ebs.this"]

  provisioner "shell" {
    inline = ["mkdir -p ${local.remote_dir}/images"]
  }

  # The local bake's container images as `docker save` archives, with their
  # images.json (the worker; the chef-server's folder holds only an empty
  # images.json). No registry: the cookbook checks each archive's SHA-256,
  # loads it and checks the loaded id (docs/decisions/0011-*.md).
  provisioner "file" {
    source      = "${var.container_archive_dir}/"
    destination = "${local.remote_dir}/images"
  }

  provisioner "file" {
    source      = var.policy_archive
    destination = "${local.remote_dir}/policy.tgz"
  }

  provisioner "file" {
    source      = var.attributes_file
    destination = "${local.remote_dir}/attributes.json"
  }

  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "CINC_VERSION=${var.cinc_version}",
      "CINC_DEB_URL=${var.cinc_deb_url}",
      "CINC_DEB_SHA256=${var.cinc_deb_sha256}",
      "SWARMHUB_REMOTE_DIR=${local.remote_dir}",
    ]
    scripts = [
      "${path.root}/scripts/install-cinc.sh",
      "${path.root}/scripts/converge.sh",
    ]
  }

  # In-image checks: a failure here fails the build before any AMI exists.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "SWARMHUB_EXPECTED_IMAGES=${join(" ", var.container_images)}",
      "SWARMHUB_EXPECTED_IMAGE_IDS=${join(" ", [for ref, id in var.container_image_ids : "${ref}=${id}"])}",
    ]
    script = var.image_checks
  }

  provisioner "shell" {
    execute_command  = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = ["SWARMHUB_REMOTE_DIR=${local.remote_dir}"]
    script           = "${path.root}/scripts/cleanup.sh"
  }

  post-processor "manifest" {
    output     = var.manifest_path
    strip_path = true
    custom_data = {
      image           = var.image_name
      input_hash      = var.input_hash
      git_revision    = var.git_revision
      policy_revision = var.policy_revision
      # {ref: image id} of the images loaded from the local bake's archives.
      container_images = jsonencode(var.container_image_ids)
    }
  }
}
