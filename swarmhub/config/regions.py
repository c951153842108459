"""The AWS regions a fleet can be in, known without asking AWS.

A region that does not exist used to pass the config and fail later, blamed
on the credentials. This list is the commercial, China and GovCloud
partitions of botocore's endpoints data (tests/unit/test_config_reference.py
fails when botocore knows one that is missing here); `validate --online` asks
EC2 whether the account has the region enabled.
"""

from __future__ import annotations

import difflib

AWS_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "cn-north-1",
        "cn-northwest-1",
        "us-gov-east-1",
        "us-gov-west-1",
    }
)


def region_problem(value: str) -> str | None:
    """Why `value` is not an AWS region, with the nearest one; None if it is one."""
    if value in AWS_REGIONS:
        return None
    close = difflib.get_close_matches(value.lower(), sorted(AWS_REGIONS), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "write e.g. eu-central-1"
    return f"is not an AWS region; {hint}"
