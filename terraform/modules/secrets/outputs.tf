output "kms_key_arn" {
  description = "ARN of the fleet's customer-managed KMS key."
  value       = aws_kms_key.this.arn
}

output "join_token_parameter_name" {
  description = "Name of the SSM SecureString holding the swarm join token."
  value       = aws_ssm_parameter.join_token.name
}

output "join_token_parameter_arn" {
  description = "ARN of the SSM SecureString holding the swarm join token."
  value       = aws_ssm_parameter.join_token.arn
}

output "github_client_secret_parameter_name" {
  description = "Name of the SSM SecureString holding the GitHub OAuth client secret."
  value       = aws_ssm_parameter.github_client_secret.name
}

output "github_client_secret_parameter_arn" {
  description = "ARN of the SSM SecureString holding the GitHub OAuth client secret."
  value       = aws_ssm_parameter.github_client_secret.arn
}
