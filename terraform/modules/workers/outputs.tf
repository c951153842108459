output "autoscaling_group_name" {
  description = "Name of the workers' Auto Scaling group (null while the fleet is stopped)."
  value       = one(aws_autoscaling_group.this[*].name)
}

output "autoscaling_group_arn" {
  description = "ARN of the workers' Auto Scaling group (null while the fleet is stopped)."
  value       = one(aws_autoscaling_group.this[*].arn)
}

output "launch_template_id" {
  description = "Id of the workers' launch template."
  value       = aws_launch_template.this.id
}

output "lifecycle_queue_arn" {
  description = "ARN of the SQS queue receiving the group's lifecycle events."
  value       = aws_sqs_queue.lifecycle.arn
}

output "lifecycle_queue_url" {
  description = "URL of the SQS queue receiving the group's lifecycle events."
  value       = aws_sqs_queue.lifecycle.id
}
