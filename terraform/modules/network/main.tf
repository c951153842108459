# The VPC, its subnets and the security groups of the fleet.
#
# Exposure: only the hub's 80/443 faces var.hub_ingress_cidrs. Swarm (2377/tcp,
# 7946/tcp+udp, 4789/udp), the hub's API (8081/tcp), the user servers' published
# ports (32768-60999/tcp), NFS (2049/tcp) and the Chef Server
# (443/tcp) are open only from our own security groups. No SSH anywhere: operators use SSM
# Session Manager.

locals {
  create_vpc = var.vpc_id == null
  vpc_id     = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  vpc_cidr   = local.create_vpc ? aws_vpc.this[0].cidr_block : data.aws_vpc.existing[0].cidr_block
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  public_subnet_ids  = local.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
  private_subnet_ids = local.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids

  swarm_ports = {
    swarm-management = { protocol = "tcp", port = 2377 }
    gossip-tcp       = { protocol = "tcp", port = 7946 }
    gossip-udp       = { protocol = "udp", port = 7946 }
    overlay-vxlan    = { protocol = "udp", port = 4789 }
    # The hub's API, published on the manager: user servers reach the hub at
    # the manager's address (docs/decisions/0008).
    hub-api = { protocol = "tcp", port = 8081 }
  }
  hub_ports = {
    https = 443
    # ACME HTTP-01 challenge and the redirect to https only.
    http = 80
  }
  # Who reaches each port. With a domain, port 80 answers only Let's
  # Encrypt's HTTP-01 challenge and redirects to https: it is open to
  # everyone, since Let's Encrypt validates from addresses of its own that no
  # campus range holds (docs/decisions/0061-*.md). The hub itself (443, or
  # 80 without a domain) stays behind hub_ingress_cidrs.
  hub_port_cidrs = {
    https = var.hub_ingress_cidrs
    http  = var.acme_http_from_anywhere ? ["0.0.0.0/0"] : var.hub_ingress_cidrs
  }
  # Every (port, cidr) pair the hub accepts from outside.
  hub_ingress = merge([
    for name, port in local.hub_ports : {
      for cidr in local.hub_port_cidrs[name] : "${name}-${cidr}" => { port = port, cidr = cidr }
    }
  ]...)
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones by name are used (slice), so a zone AWS adds later does not change the subnets
  state = "available"
}

data "aws_vpc" "existing" {
  count = local.create_vpc ? 0 : 1
  id    = var.vpc_id
}

################################################################################
# VPC (when not given one)
################################################################################

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Nothing may use the default security group.
resource "aws_default_security_group" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  # Only the hub's Elastic IP and the NAT gateway are public; no instance gets
  # an address just by being launched here.
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}" })
}

resource "aws_subnet" "private" {
  count = local.create_vpc ? var.az_count : 0

  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 1)

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route_table" "public" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count                  = local.create_vpc ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count          = local.create_vpc ? var.az_count : 0
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One NAT gateway: nodes reach SSM, GitHub and Let's Encrypt through it. One
# (not one per AZ) because a class hub is cheap first; an AZ loss costs
# outbound access, not the swarm.
resource "aws_eip" "nat" {
  count  = local.create_vpc && var.nat_gateway ? 1 : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_nat_gateway" "this" {
  count         = local.create_vpc && var.nat_gateway ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(var.tags, { Name = var.name })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "private" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route" "private_nat" {
  count                  = local.create_vpc && var.nat_gateway ? 1 : 0
  route_table_id         = aws_route_table.private[0].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

resource "aws_route_table_association" "private" {
  count          = local.create_vpc ? var.az_count : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

################################################################################
# Flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_logs" {
  count             = local.create_vpc ? 1 : 0
  name              = "/${var.name}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_logs" {
  count = local.create_vpc ? 1 : 0
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs[0].arn}:*"]
  }
}

resource "aws_iam_role" "flow_logs" {
  count              = local.create_vpc ? 1 : 0
  name               = "${var.name}-vpc-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow_logs" {
  count  = local.create_vpc ? 1 : 0
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs[0].id
  policy = data.aws_iam_policy_document.flow_logs[0].json
}

resource "aws_flow_log" "this" {
  count           = local.create_vpc ? 1 : 0
  vpc_id          = aws_vpc.this[0].id
  traffic_type    = "ALL"
  log_destination = aws_cloudwatch_log_group.flow_logs[0].arn
  iam_role_arn    = aws_iam_role.flow_logs[0].arn
  tags            = var.tags
}

################################################################################
# Security groups
################################################################################

# The hub's public face: attached to the manager's network interface only.
resource "aws_security_group" "hub" {
  #checkov:skip=CKV2_AWS_5:Attached in another module (the manager module's network interface); checkov does not follow module outputs
  name        = "${var.name}-hub"
  description = "swarmhub hub: HTTPS (and HTTP for ACME + redirect) from hub_ingress_cidrs"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-hub" })
}

resource "aws_vpc_security_group_ingress_rule" "hub" {
  for_each = local.hub_ingress

  security_group_id = aws_security_group.hub.id
  description       = "hub ${each.value.port == 443 ? "https" : "http: ACME challenge and redirect"}"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = var.tags
}

# Every swarm node (manager and workers): swarm traffic only among themselves.
resource "aws_security_group" "nodes" {
  #checkov:skip=CKV2_AWS_5:Attached in another module (the manager and worker launch templates and the manager's interface); checkov does not follow module outputs
  name        = "${var.name}-nodes"
  description = "swarmhub swarm nodes: swarm ports among the nodes only"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nodes" })
}

resource "aws_vpc_security_group_ingress_rule" "swarm" {
  for_each = local.swarm_ports

  security_group_id            = aws_security_group.nodes.id
  description                  = "docker swarm ${each.key} between swarm nodes"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = aws_security_group.nodes.id
  tags                         = var.tags
}

# User servers, each published in host mode on its own node on a port the node
# picks from the kernel's ephemeral range: the hub and the proxy reach them
# there, not through the overlay (docs/decisions/0041). From the nodes group,
# as the overlay was: the manager's traffic to the workers leaves by its own
# interface, which has only this group (the hub group is on the role's one).
resource "aws_vpc_security_group_ingress_rule" "user_servers" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "user servers on their node's published ports, for the hub and proxy on the manager"
  ip_protocol                  = "tcp"
  from_port                    = 32768
  to_port                      = 60999
  referenced_security_group_id = aws_security_group.nodes.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes_vpc" {
  security_group_id = aws_security_group.nodes.id
  description       = "swarm, NFS and chef server inside the VPC"
  ip_protocol       = "-1"
  cidr_ipv4         = local.vpc_cidr
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes_https" {
  security_group_id = aws_security_group.nodes.id
  description       = "HTTPS out: SSM, GitHub OAuth, Let's Encrypt"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

# EFS mount targets: NFS from the swarm nodes only.
resource "aws_security_group" "efs" {
  #checkov:skip=CKV2_AWS_5:Attached in another module (the storage module's mount targets); checkov does not follow module outputs
  name        = "${var.name}-efs"
  description = "swarmhub EFS mount targets: NFS from the swarm nodes only"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-efs" })
}

resource "aws_vpc_security_group_ingress_rule" "efs" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS (TLS via efs-utils stunnel) from the swarm nodes"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.nodes.id
  tags                         = var.tags
}

# The Chef Server: its API from the swarm nodes only.
resource "aws_security_group" "chef_server" {
  #checkov:skip=CKV2_AWS_5:Attached in another module (the chef_server module's instance); checkov does not follow module outputs
  name        = "${var.name}-chef-server"
  description = "swarmhub chef server: HTTPS API from the swarm nodes only"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-chef-server" })
}

resource "aws_vpc_security_group_ingress_rule" "chef_server" {
  security_group_id            = aws_security_group.chef_server.id
  description                  = "Chef Server API from the swarm nodes"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.nodes.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "chef_server_https" {
  security_group_id = aws_security_group.chef_server.id
  description       = "HTTPS out: SSM agent"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}
