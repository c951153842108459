"""The autoscaler: a pure decision, node pools, and the service loop around them."""
