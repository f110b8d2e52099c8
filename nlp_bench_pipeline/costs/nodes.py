"""What an EKS node leaves to pods: the EKS AMI's kube-reserved CPU and memory.

A node of N vCPUs does not offer N cores to pods. The EKS-optimised AMI's bootstrap reserves CPU
and memory for the kubelet and container runtime (``kube-reserved``) and keeps a hard eviction
threshold; pods are scheduled against what is left (*allocatable*). Sizing a cluster by vCPUs
would overstate every node; these formulas are the AMI's own, so the catalog's allocatable
figures can be checked against them.
"""

from __future__ import annotations

# (cores in this band, share of each core reserved): the first core 6 %, the second 1 %, the
# next two 0.5 %, every core above four 0.25 % (amazon-eks-ami, bootstrap's kube-reserved CPU).
_CPU_RESERVE_BANDS: tuple[tuple[float, float], ...] = ((1, 0.06), (1, 0.01), (2, 0.005))
_CPU_RESERVE_ABOVE = 0.0025
_MEMORY_RESERVE_BASE_MIB = 255
_MEMORY_RESERVE_PER_POD_MIB = 11
EVICTION_HARD_MEMORY_MIB = 100


def kube_reserved_cpu_m(vcpus: int) -> float:
    """Millicores the EKS AMI reserves on a node of ``vcpus``."""
    remaining, reserved = float(vcpus), 0.0
    for cores, share in _CPU_RESERVE_BANDS:
        taken = min(remaining, cores)
        reserved += taken * share * 1000
        remaining -= taken
    return reserved + remaining * _CPU_RESERVE_ABOVE * 1000


def allocatable_cpu_m(vcpus: int) -> float:
    """Millicores a node of ``vcpus`` offers to pods."""
    return vcpus * 1000 - kube_reserved_cpu_m(vcpus)


def allocatable_memory_mib(memory_gib: float, max_pods: int) -> float:
    """MiB a node offers to pods: memory less kube-reserved (by max pods) and the eviction floor.

    Taken from the nominal memory of the instance type; the kernel keeps a little of it, so a
    real node reports slightly less.
    """
    reserved = _MEMORY_RESERVE_BASE_MIB + _MEMORY_RESERVE_PER_POD_MIB * max_pods
    return memory_gib * 1024 - reserved - EVICTION_HARD_MEMORY_MIB
