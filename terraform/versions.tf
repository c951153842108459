terraform {
  # 1.11: write-only attributes (the secrets' placeholders, never in state);
  # it also covers the S3 backend's use_lockfile (1.10).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: bucket, key, region, encrypt and the lock
  # (use_lockfile = true, or dynamodb_table = "...") come from
  # `-backend-config` on `terraform init` (swarmhub.aws.deploy renders them
  # from aws.fleet.backend). Nothing secret is in the state: see README.
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
