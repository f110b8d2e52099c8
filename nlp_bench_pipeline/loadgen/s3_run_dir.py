"""A run directory in S3: what the load generator's pod leaves there, and how it comes back.

The runner writes a repetition's files — ``plan.json``, ``requests-w*.parquet`` (one per Locust
process), ``summary.json``, Locust's log and stats — into its run directory. A pod's disk goes
with the pod, so the pod uploads that directory to ``s3://<bucket>/<prefix>`` before it exits
(:func:`upload_run_dir`) and the pipeline downloads the same objects into the run directory a
local run would have used (:func:`download_run_dir`). One layout both ways: a run directory is
flat, and a key is the prefix followed by the file's name.

The S3 client is a parameter (boto3's, from whatever credentials the caller has: the pod's IRSA
role, the pipeline's role); nothing here reads settings or the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Files being written (``RepetitionPlan.write`` goes through a temporary name) are not results.
PARTIAL_SUFFIXES = (".tmp",)


def s3_uri(bucket: str, prefix: str) -> str:
    """``s3://bucket/prefix`` — how a location is written in logs and on a pod's command line."""
    return f"s3://{bucket}/{prefix}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix/``; the prefix always ends with ``/``."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket/prefix/ URI")
    prefix = parts.path.lstrip("/")
    return parts.netloc, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def upload_run_dir(s3: Any, bucket: str, prefix: str, run_dir: Path) -> list[str]:
    """Put every finished file of ``run_dir`` under ``prefix``; returns the keys, in name order."""
    keys = []
    for path in sorted(p for p in Path(run_dir).iterdir() if p.is_file()):
        if path.name.endswith(PARTIAL_SUFFIXES):
            continue
        key = prefix + path.name
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def download_run_dir(s3: Any, bucket: str, prefix: str, run_dir: Path) -> list[Path]:
    """Every object directly under ``prefix`` into ``run_dir`` (created); the local paths."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            name = entry["Key"].removeprefix(prefix)
            if not name or "/" in name:  # not this run directory's own file
                continue
            local = run_dir / name
            s3.download_file(bucket, entry["Key"], str(local))
            found.append(local)
    return sorted(found)
