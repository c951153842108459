"""What one worker node offers, where the config alone can tell: the AWS worker
instance type's memory and vCPUs, from the families swarmhub is used with.
An unknown type is not guessed at (None): the check that uses it says nothing.
"""

from __future__ import annotations

import re

GIB = 1024**3

# GiB of memory per vCPU, by the family's class letter (m6i, c7g, r5a, ...).
_PER_VCPU = {"m": 4, "c": 2, "r": 8}
# vCPUs by size; large and above, as in every m/c/r family.
_VCPUS = {"large": 2, "xlarge": 4}
# Burstable t2/t3/t3a/t4g: (vCPUs, GiB) by size.
_BURSTABLE = {
    "nano": (2, 0.5),
    "micro": (2, 1),
    "small": (2, 2),
    "medium": (2, 4),
    "large": (2, 8),
    "xlarge": (4, 16),
    "2xlarge": (8, 32),
}
_TYPE = re.compile(r"^([mcrt])(\d)[a-z]*(?:-flex)?\.(\w+)$")


def worker_size(instance_type: str) -> tuple[int, float] | None:
    """(memory in bytes, vCPUs) of an instance type, or None if it is not known here."""
    m = _TYPE.match(instance_type)
    if not m:
        return None
    family, size = m.group(1), m.group(3)
    if family == "t":
        if size not in _BURSTABLE:
            return None
        cpus, gib = _BURSTABLE[size]
        return int(gib * GIB), float(cpus)
    times = re.match(r"^(\d+)xlarge$", size)
    cpus = _VCPUS.get(size) or (int(times.group(1)) * 4 if times else None)
    if cpus is None:
        return None
    return cpus * _PER_VCPU[family] * GIB, float(cpus)
