"""Where archives go: a local directory, or an S3 bucket with a lifecycle rule.

Both stores have the same four verbs on keys like `<course>/<user>/<stamp>.tar`:
put a local file, get one back, its size, and the listing of keys under a prefix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from swarmhub.errors import SwarmhubError

LIFECYCLE_RULE = "swarmhub-archive"


class LocalStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def where(self, key: str) -> str:
        return str(self.root / key)

    def put(self, key: str, source: Path) -> None:
        # The store holds every student's files: root's alone, whatever makes it.
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=0o700)
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = target.with_name(target.name + ".part")
        shutil.copyfile(source, part)
        part.chmod(0o600)
        part.replace(target)  # a half-copied archive never has the final name

    def get(self, key: str, target: Path) -> None:
        try:
            shutil.copyfile(self.root / key, target)
        except FileNotFoundError:
            raise SwarmhubError(f"{self.where(key)}: no such archive") from None

    def size(self, key: str) -> int | None:
        path = self.root / key
        return path.stat().st_size if path.is_file() else None

    def listing(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
            and str(p.relative_to(self.root)).startswith(prefix)
        )  # fmt: skip


class S3Store:
    """s3://bucket/prefix. The bucket is the operator's (made once, like the
    Terraform state's); `ensure_lifecycle` adds our rule to its others."""

    def __init__(self, url: str, client=None):
        if not url.startswith("s3://"):
            raise SwarmhubError(f"{url}: write s3://bucket/prefix")
        bucket, _, prefix = url[5:].partition("/")
        if not bucket:
            raise SwarmhubError(f"{url}: no bucket")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.s3 = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put(self, key: str, source: Path) -> None:
        self.s3.upload_file(str(source), self.bucket, self._key(key))

    def get(self, key: str, target: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            self.s3.download_file(self.bucket, self._key(key), str(target))
        except ClientError as exc:
            raise SwarmhubError(f"{self.where(key)}: cannot read: {exc}") from None

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return self.s3.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except ClientError:
            return None

    def listing(self, prefix: str = "") -> list[str]:
        out = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            out += [o["Key"][strip:] for o in page.get("Contents", [])]
        return sorted(out)

    def ensure_lifecycle(self, infrequent_after_days: int, expire_after_days: int) -> dict:
        """Our rule on the archive prefix, beside the bucket's other rules
        (the API replaces the whole configuration, so read, merge, write)."""
        from botocore.exceptions import ClientError

        try:
            rules = self.s3.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        rule = {
            "ID": LIFECYCLE_RULE,
            "Filter": {"Prefix": f"{self.prefix}/" if self.prefix else ""},
            "Status": "Enabled",
            # Standard-IA: still read at once by `restore` (Glacier would need a
            # restore request first); cheaper after the first month.
            "Transitions": [{"Days": infrequent_after_days, "StorageClass": "STANDARD_IA"}],
        }
        if expire_after_days:
            rule["Expiration"] = {"Days": expire_after_days}
        others = [r for r in rules if r.get("ID") != LIFECYCLE_RULE]
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [*others, rule]}
        )
        return rule


def store_for(url: str):
    return S3Store(url) if url.startswith("s3://") else LocalStore(url)
