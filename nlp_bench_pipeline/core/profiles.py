"""Per-profile defaults with a caller's overrides on top: how the sweep and the peak search turn
a benchmark profile (smoke, quick, full) and command-line options into a plan."""

from __future__ import annotations

from collections.abc import Mapping


def profile_fields(
    defaults: Mapping[str, Mapping[str, object]], profile: str, overrides: Mapping[str, object]
) -> dict[str, object]:
    """``defaults[profile]`` with ``overrides`` on top; an override of None or () keeps the
    default (an option the person did not give). An unknown profile is a ValueError."""
    if profile not in defaults:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(defaults)}")
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    return {**defaults[profile], **given}
