"""boto3 clients for the AWS targets, from one session that uses the default credential chain.

The session is a parameter, never built from settings here: the caller (the CLI, the Dagster
resource) makes it with ``boto3.Session(profile_name=..., region_name=...)`` and boto3 finds the
credentials — SSO, a profile, an instance profile, OIDC web identity in CI. ``endpoint_url``
points every client at one endpoint (moto in the tests; a VPC endpoint in a locked-down
account). Retries are botocore's "standard" mode: throttled control-plane calls back off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


class NoCredentials(RuntimeError):
    """boto3's default chain found no credentials; the message says how to supply them."""


@dataclass
class AwsClients:
    """Clients of one session and region, made once each."""

    session: boto3.Session
    endpoint_url: str | None = None
    config: Config = DEFAULT_CONFIG
    _made: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise NoCredentials(
                "no AWS region: set AWS_REGION (or the profile's region), or pass --region"
            )
        return region

    def client(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self.session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=self.config
            )
        return self._made[service]

    def require_credentials(self) -> None:
        """Fail with one line when the default chain has nothing, before any call is made."""
        if self.session.get_credentials() is None:
            raise NoCredentials(
                "no AWS credentials in the default chain: `aws sso login --profile P` and "
                "AWS_PROFILE=P, an instance profile, or OIDC in CI (never keys in repository files)"
            )

    def caller_arn(self) -> str:
        """Who the credentials belong to (the default owner of what they deploy)."""
        return str(self.client("sts").get_caller_identity()["Arn"])
