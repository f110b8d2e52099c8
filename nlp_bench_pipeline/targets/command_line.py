"""What the emulators' standalone commands share: options checked as the platforms check them.

Each command builds the same pydantic models the target validates (``DeploymentSpec``, the
platform's config) before anything starts, and a problem becomes one line naming the option as
the person typed it, the value and what is allowed — e.g. ``--memory 50: must be greater than
or equal to 128 (Lambda memory size)`` or ``--set bogus=1: unknown knob 'bogus'; knobs: api,
...`` — and exit code 2; a port already taken is said the same way before the deploy.
"""

from __future__ import annotations

import argparse
import errno
import socket
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from nlp_bench_pipeline.core.options import OneLineParser, RawDescriptionDefaultsShown

Location = tuple[str | int, ...]


def pair(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=VALUE``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def validation_line(
    exc: ValidationError, model: type[BaseModel], setting: Callable[[Location], str]
) -> str:
    """The first problem pydantic found, as one line that names the setting it came from.

    ``setting(loc)`` words where a field's value came from (``--memory 50``); an unknown key
    lists the keys ``model`` (or the nested model at that place) accepts.
    """
    error = exc.errors()[0]
    loc: Location = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        known = ", ".join(field_names(model, loc[:-1]))
        return f"{setting(loc)}: unknown knob {loc[-1]!r}; knobs: {known}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message[1:2].islower():  # "Input should be ..." but not "HTTP API ..."
        message = message[:1].lower() + message[1:]
    described = field_description(model, loc)
    return f"{setting(loc)}: {message}" + (f" ({described})" if described else "")


def field_names(model: type[BaseModel], loc: Location) -> list[str]:
    """The fields (by the names a person writes) of ``model`` or the nested model at ``loc``."""
    nested = _nested(model, loc)
    if nested is None:
        return []
    return [info.alias or name for name, info in nested.model_fields.items()]


def field_description(model: type[BaseModel], loc: Location) -> str | None:
    if not loc:
        return None
    parent = _nested(model, loc[:-1])
    if parent is None:
        return None
    info = _field(parent, loc[-1])
    return info.description if info is not None else None


def _nested(model: type[BaseModel], loc: Location) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        info = _field(current, part) if isinstance(current, type) else None
        if info is None:
            return None
        current = info.annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field(model: type[BaseModel], name: str | int) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def address_in_use(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` cannot be bound now (0 always can: the OS picks a free port)."""
    if port == 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return address_in_use(exc)
    return False


def port_taken_line(port: int, what: str, *, any_free: bool = True) -> str:
    """``--port N`` is taken: one line, with what to do instead (0 where the OS may pick)."""
    return (
        f"--port {port}: 127.0.0.1:{port} is already in use ({what} needs it free); "
        "choose another port" + (", or 0 for any free one" if any_free else "")
    )


def emulator_parser(prog: str, description: str | None) -> OneLineParser:
    """The parser both emulator commands start from: one-line errors, defaults in ``--help``."""
    return OneLineParser(
        prog=prog,
        description=description,
        formatter_class=RawDescriptionDefaultsShown,
    )
