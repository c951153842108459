# Inputs of the image template. Per-image data comes from
# images/<name>/image.pkrvars.hcl; per-build values (hash, revisions, paths)
# from the *.pkrvars.json that `pipeline.py bake --target aws` renders into
# .work/aws/<name>/ before it runs packer.

# --- what is being built ----------------------------------------------------

variable "image_name" {
  type        = string
  description = "Which image this is: worker or chef-server (tag swarmhub:image)."
}

variable "image_description" {
  type        = string
  description = "The AMI's description, shown in the EC2 console."
}

variable "policy_name" {
  type        = string
  description = "The Chef policy (role cookbook) converged into the image."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of AMI names and of the swarmhub:deployment tag (aws.name_prefix)."
  default     = "swarmhub"
}

variable "ami_name" {
  type        = string
  description = "The AMI's unique name, rendered by the bake (prefix, image, time, hash)."
}

# --- where and on what --------------------------------------------------------

variable "region" {
  type        = string
  description = "AWS region the AMI is built and registered in."
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance."
  default     = "t3.large"
}

variable "iam_instance_profile" {
  type        = string
  description = "Instance profile of the build instance (e.g. to pull from ECR); empty for none."
  default     = ""
}

variable "base_ami_owner" {
  type        = string
  description = "Account that must own the base AMI (Canonical by default): the lookup is pinned to it."
  default     = "099720109477"
}

variable "base_ami_name" {
  type        = string
  description = "Name (or name pattern) of the base AMI; the bake passes the exact name it resolved."
  default     = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
}

variable "ssh_username" {
  type        = string
  description = "Login user of the base AMI."
  default     = "ubuntu"
}

variable "root_volume_size" {
  type        = number
  description = "Root volume size in GiB (images pre-loaded into the worker need room)."
  default     = 30
}

variable "kms_key_id" {
  type        = string
  description = "KMS key for the encrypted root volume; empty means the account's default EBS key."
  default     = ""
}

variable "deprecate_at" {
  type        = string
  description = "RFC 3339 time at which EC2 marks the AMI deprecated (rendered by the bake)."
}

# --- provenance, recorded as tags and in the manifest -----------------------

variable "input_hash" {
  type        = string
  description = "Hash of every input of this image; an AMI tagged with it is not rebuilt."
}

variable "git_revision" {
  type        = string
  description = "Git revision of the swarmhub checkout the image was baked from."
}

variable "policy_revision" {
  type        = string
  description = "Revision id of the exported Chef policy (or of the local-mode archive)."
}

# --- what goes onto the machine -----------------------------------------------

variable "policy_archive" {
  type        = string
  description = "Path of the policy archive (cinc export --archive, or the bake's local-mode twin)."
}

variable "manifest_path" {
  type        = string
  description = "Where the manifest post-processor writes the build's artifact (the bake reads it)."
}

variable "attributes_file" {
  type        = string
  description = "Path of the JSON attributes file cinc-client converges with (rendered by the bake)."
}

variable "cinc_version" {
  type        = string
  description = "Cinc Client version installed for the converge (and kept for enrollment)."
}

variable "cinc_deb_url" {
  type        = string
  description = "URL of the pinned Cinc Client .deb."
}

variable "cinc_deb_sha256" {
  type        = string
  description = "SHA-256 of that .deb; the bake fails if the download does not match."
}

variable "image_checks" {
  type        = string
  description = "In-image check script (images/<name>/checks.sh); a failure fails the bake."
}

variable "container_images" {
  type        = list(string)
  description = "Container images the image must hold when baked (the checks look for them)."
  default     = []
}

variable "container_image_ids" {
  type        = map(string)
  description = "Image reference -> image id (sha256:...) of each image loaded from the local bake's archives."
  default     = {}
}

variable "container_archive_dir" {
  type        = string
  description = "Folder of the `docker save` archives and their images.json (rendered by the bake)."
}
