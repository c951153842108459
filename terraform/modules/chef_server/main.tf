# The Chef Server (Cinc Server by default) from the chef-server AMI: a private
# instance reachable only from our swarm nodes on 443. Nodes enroll after they
# joined the swarm, so this server is never on the path to capacity.

resource "aws_instance" "this" {
  ami                         = var.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = var.security_group_ids
  iam_instance_profile        = var.instance_profile_name
  associate_public_ip_address = false
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = var.root_volume_size
    volume_type = "gp3"
    encrypted   = true
  }

  tags        = merge(var.tags, { Name = "${var.name}-chef-server", "swarmhub:role" = "chef-server" })
  volume_tags = merge(var.tags, { Name = "${var.name}-chef-server" })

  lifecycle {
    # A new AMI must not silently replace the server and its node registry.
    ignore_changes = [ami]
  }
}

# Stopped, not destroyed, while the fleet is stopped: its disk holds the
# organisation, the nodes' enrollment and the keys the workers trust.
resource "aws_ec2_instance_state" "this" {
  instance_id = aws_instance.this.id
  state       = var.running ? "running" : "stopped"
}
