"""uvicorn's HTTP protocols, answering a malformed request with the service's JSON 400.

A request uvicorn cannot parse never reaches the app, and uvicorn answers it itself with a
plain-text ``Invalid HTTP request received.``: the one answer of the service that is not
``{"message", "detail"}`` JSON (issue 17). uvicorn has no setting for that body, so these
subclasses override the one method that writes it; the bytes the client sent are never echoed.

``python -m inference_service`` uses :data:`JsonErrorHttpProtocol`; a plain uvicorn takes it as
``--http inference_service.http_protocol:JsonErrorHttpProtocol``. It is the httptools protocol
where httptools is installed (uvicorn's ``auto`` choice) and h11's otherwise.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MALFORMED_BODY = json.dumps(
    {"message": "malformed HTTP request", "detail": None}, separators=(",", ":")
).encode()
MALFORMED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(MALFORMED_BODY)).encode()),
    (b"connection", b"close"),
]


class JsonErrorH11Protocol(H11Protocol):
    """h11's protocol with a JSON body on its 400."""

    def send_400_response(self, msg: str) -> None:
        for event in (
            h11.Response(status_code=400, headers=MALFORMED_HEADERS, reason=b"Bad Request"),
            h11.Data(data=MALFORMED_BODY),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def _httptools_protocol() -> type[asyncio.Protocol] | None:
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:  # httptools is optional (not in the service image)
        return None

    class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
        """httptools' protocol with a JSON body on its 400."""

        def send_400_response(self, msg: str) -> None:
            content = [STATUS_LINE[400]]
            for name, value in [*self.server_state.default_headers, *MALFORMED_HEADERS]:
                content += [name, b": ", value, b"\r\n"]
            content += [b"\r\n", MALFORMED_BODY]
            self.transport.write(b"".join(content))
            self.transport.close()

    return JsonErrorHttpToolsProtocol


JsonErrorHttpToolsProtocol = _httptools_protocol()
JsonErrorHttpProtocol: type[asyncio.Protocol] = JsonErrorHttpToolsProtocol or JsonErrorH11Protocol
