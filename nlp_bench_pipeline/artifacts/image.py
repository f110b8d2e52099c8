"""The service image: a digest of its build context, and a ``docker build`` where an engine runs.

The digest covers exactly what the Dockerfile copies (the service code, its pinned requirements,
the Dockerfile and entrypoint) plus the baked-in model setting, so it changes when, and only
when, the image would.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
from pathlib import Path

from pydantic import BaseModel

DOCKERFILE = Path("infra/docker/Dockerfile")
CONTEXT_PATHS = (
    Path("infra/docker/Dockerfile"),
    Path("infra/docker/entrypoint.sh"),
    Path("infra/docker/requirements.txt"),
    Path("inference_service"),
)
IMAGE_NAME = "nlp-bench-service"


class ImageBuild(BaseModel):
    """What was built (or, without an engine, what would be)."""

    context_digest: str
    tag: str
    built: bool
    engine: str
    image_id: str | None = None
    files: int
    note: str


def context_files(root: Path) -> list[Path]:
    """Every file the image is built from, relative to ``root``, sorted."""
    files: list[Path] = []
    for entry in CONTEXT_PATHS:
        path = root / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [
            p.relative_to(root)
            for p in candidates
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return sorted(files)


def context_digest(model: str, root: Path) -> str:
    """``sha256:`` over the build context's paths and bytes and the model build argument."""
    hasher = hashlib.sha256(f"MODEL={model}\0".encode())
    for rel in context_files(root):
        hasher.update(str(rel).encode() + b"\0")
        hasher.update((root / rel).read_bytes())
        hasher.update(b"\0")
    return f"sha256:{hasher.hexdigest()}"


def docker_engine() -> str | None:
    """The engine's version when ``docker info`` reaches one, else None."""
    if shutil.which("docker") is None:
        return None
    probe = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    version = probe.stdout.strip()
    return version if probe.returncode == 0 and version else None


def host_platform() -> str:
    """The image platform of this machine (Lambda runs amd64 or arm64 images)."""
    return "linux/arm64" if platform.machine().lower() in ("aarch64", "arm64") else "linux/amd64"


def build_command(model: str, tag: str, image_platform: str) -> list[str]:
    """``docker buildx build`` as Lambda accepts the result: one platform, no attestations.

    Lambda refuses OCI image indexes, and BuildKit's default provenance (and SBOM) attestations
    turn a single-platform build into one; ``--load`` keeps the image in the local store.
    """
    return [
        "docker", "buildx", "build", "-f", str(DOCKERFILE), "--platform", image_platform,
        "--provenance=false", "--sbom=false", "--load",
        "--build-arg", f"MODEL={model}", "-t", tag, ".",
    ]  # fmt: skip


def build_image(model: str, root: Path, timeout_s: float = 3600) -> ImageBuild:
    """Build and tag the image when an engine is present; otherwise report the context only."""
    digest = context_digest(model, root)
    tag = f"{IMAGE_NAME}:{digest.split(':')[1][:12]}"
    files = len(context_files(root))
    engine = docker_engine()
    if engine is None:
        return ImageBuild(
            context_digest=digest,
            tag=tag,
            built=False,
            engine="none",
            files=files,
            note="no Docker engine: context only (docker info found no server)",
        )
    subprocess.run(
        build_command(model, tag, host_platform()), cwd=root, check=True, timeout=timeout_s
    )
    image_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return ImageBuild(
        context_digest=digest,
        tag=tag,
        built=True,
        engine=f"docker {engine}",
        image_id=image_id,
        files=files,
        note="built",
    )
