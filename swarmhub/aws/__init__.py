"""The AWS target: AMIs baked with Packer, the fleet applied with Terraform."""
