"""Node pools: where worker nodes come from (an EC2 Auto Scaling Group, or local dockerd nodes)."""
