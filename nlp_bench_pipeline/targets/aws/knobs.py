"""A target's knobs from ``DeploymentSpec.platform``, with a bad one named in one line.

pydantic's own message spans lines and says ``Field required`` without saying which target or
what the field is for; a deploy fails before any AWS call with ``aws-lambda: platform.image:
Field required (the service image in ECR, <repository>@sha256:<64 hex>)`` instead.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Knobs = TypeVar("Knobs", bound=BaseModel)


class KnobError(ValueError):
    """A platform knob the target cannot use; the message names it."""


def validate_knobs(model: type[Knobs], target: str, platform: dict[str, Any]) -> Knobs:
    try:
        return model.model_validate(platform)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        field = model.model_fields.get(str(error["loc"][0])) if error["loc"] else None
        described = field is not None and field.description and error["type"] == "missing"
        purpose = f" ({field.description})" if described else ""
        place = f"platform.{where}: " if where else "platform: "
        raise KnobError(f"{target}: {place}{message}{purpose}") from None
