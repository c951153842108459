# The hub's DNS name -> its Elastic IP. Optional: without a Route53 zone the
# operator points the name at the `hub_public_ip` output themselves.

resource "aws_route53_record" "this" {
  #checkov:skip=CKV2_AWS_23:The record points at the hub's Elastic IP (the manager module's), passed in as an address
  zone_id = var.zone_id
  name    = var.domain
  type    = "A"
  ttl     = var.ttl
  records = [var.address]
}
