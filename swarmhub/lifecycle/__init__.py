"""The node lifecycle handler: ASG lifecycle hooks via SQS, drain, deregister."""
