"""[report] The Groq client's settings for the SRE analysis; the key only through ``dg.EnvVar``.

Bound here so the stage loads as it is: with ``GROQ_API_KEY`` set the analysis asks Groq (the
key reaches the ``groq`` client and nothing else), without it the offline analyst writes it.
"""

import os

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.analysis import DEFAULT_MODELS

KEY_VARIABLE = "GROQ_API_KEY"


class GroqResource(dg.ConfigurableResource):
    """Groq's API key (``dg.EnvVar``, never literal), the models to try in order, the base URL."""

    api_key: str | None = Field(None, description=f"from {KEY_VARIABLE}; none: offline analyst")
    models: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MODELS),
        description="Groq model ids, tried in order ('model not found' moves to the next)",
    )
    base_url: str | None = Field(None, description="None: Groq's own API")
    timeout_s: float = Field(60.0, gt=0, description="one request's timeout")

    @classmethod
    def from_environment(cls) -> "GroqResource":
        """The key as ``dg.EnvVar`` when the variable is set (an unset EnvVar fails the run)."""
        return cls(api_key=dg.EnvVar(KEY_VARIABLE) if os.environ.get(KEY_VARIABLE) else None)


@dg.definitions
def report_resources() -> dg.Definitions:
    return dg.Definitions(resources={"groq": GroqResource.from_environment()})
