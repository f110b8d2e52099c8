"""Terraform as the deployers run it: ``apply`` with variables, then ``output -json``.

Only where a ``terraform`` binary is on the PATH (the development machines have none; CI and a
person deploying have one). Variables go in a generated ``*.tfvars.json`` beside the
environment's own ``terraform.tfvars`` (owner, expiry, e-mails), so maps and lists need no shell
quoting; ``-target`` keeps an apply to the module a target owns.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TerraformError(RuntimeError):
    """Terraform failed; the message carries the end of what it printed."""


@dataclass(frozen=True)
class TerraformCli:
    """One environment directory, e.g. ``infra/terraform/envs/bench``."""

    directory: Path
    binary: str = "terraform"
    timeout_s: float = 3600.0

    def available(self) -> bool:
        """A binary to run and an initialised directory to run it in."""
        return shutil.which(self.binary) is not None and (self.directory / ".terraform").is_dir()

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json`` as ``{name: value}``."""
        raw = json.loads(self._run(["output", "-json"]))
        return {name: entry.get("value") for name, entry in raw.items()}

    def apply(self, variables: Mapping[str, Any], *, targets: Sequence[str] = ()) -> None:
        """``terraform apply -auto-approve`` with ``variables`` (None values are left out)."""
        with tempfile.NamedTemporaryFile(
            "w", suffix=".tfvars.json", dir=self.directory, delete=False
        ) as handle:
            json.dump({k: v for k, v in variables.items() if v is not None}, handle)
            var_file = Path(handle.name)
        try:
            self._run(
                [
                    "apply",
                    "-auto-approve",
                    "-input=false",
                    f"-var-file={var_file.name}",
                    *(f"-target={target}" for target in targets),
                ]
            )
        finally:
            var_file.unlink(missing_ok=True)

    def _run(self, args: list[str]) -> str:
        binary = shutil.which(self.binary)
        if binary is None:
            raise TerraformError(f"no {self.binary} binary on the PATH")
        done = subprocess.run(
            [binary, f"-chdir={self.directory}", *args, "-no-color"],
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise TerraformError(f"terraform {args[0]} failed ({done.returncode}):\n{tail}")
        return done.stdout
