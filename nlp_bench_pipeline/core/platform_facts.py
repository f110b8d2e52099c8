"""AWS numbers more than one package needs (docs/aws-facts.md says where each comes from)."""

# Lambda memory sizes, in MB, and the share of a vCPU they buy: 1,769 MB = one vCPU.
LAMBDA_MIN_MEMORY_MB = 128
LAMBDA_MAX_MEMORY_MB = 10_240
LAMBDA_MB_PER_VCPU = 1769
# The benchmark's default: exactly one vCPU, as a pod with a one-core limit has.
LAMBDA_DEFAULT_MEMORY_MB = LAMBDA_MB_PER_VCPU
