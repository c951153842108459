# The fleet's customer-managed KMS key and its two secrets in SSM Parameter Store.
#
# Terraform creates each parameter with a placeholder through the write-only
# `value_wo` (Terraform >= 1.11): the value is sent once and never stored nor
# read back, so when the manager writes the real swarm join token at boot and
# the operator puts the GitHub OAuth client secret, a refresh does not copy
# them into the state (`value` + ignore_changes did: the provider reads the
# decrypted value on every refresh). No secret is in tfvars, user-data,
# outputs or the Terraform state; see docs/decisions/0013-secrets-out-of-state.md.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  # Never a secret: the value every parameter starts with until its owner writes it.
  placeholder = "unset: written by the manager at boot or by the operator"
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy: "*" is this key only, and the account root statement is the standard delegation to IAM
  #checkov:skip=CKV_AWS_111:A key policy: "*" is this key only, and the account root statement is the standard delegation to IAM
  #checkov:skip=CKV_AWS_356:A key policy: "*" is this key only, and the account root statement is the standard delegation to IAM
  # Key administration and use are delegated to IAM policies of this account
  # (the roles in the iam module get exactly the uses they need).
  statement {
    sid       = "AccountIamDelegation"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  # CloudWatch Logs encrypts the VPC flow log group with this key.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${data.aws_region.current.name}:${local.account}:log-group:/${var.name}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: EFS homes, hub state volume, SSM secrets, flow logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_ssm_parameter" "join_token" {
  name        = "/${var.name}/swarm/join-token"
  description = "Docker swarm worker join token; written by the manager at boot."
  type        = "SecureString"
  key_id      = aws_kms_key.this.arn
  # Bump the version only to reset the parameter to the placeholder.
  value_wo         = local.placeholder
  value_wo_version = 1
  tags             = var.tags
}

resource "aws_ssm_parameter" "github_client_secret" {
  name        = "/${var.name}/hub/github-client-secret"
  description = "GitHub OAuth client secret of the hub; put by the operator."
  type        = "SecureString"
  key_id      = aws_kms_key.this.arn
  # Bump the version only to reset the parameter to the placeholder.
  value_wo         = local.placeholder
  value_wo_version = 1
  tags             = var.tags
}
