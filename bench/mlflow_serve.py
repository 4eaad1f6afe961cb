"""MLflow's scoring server, as ``mlflow models serve --env-manager local -w N`` runs it.

``python -m bench.mlflow_serve <uvicorn arguments>``: the uvicorn command line that
``mlflow.pyfunc.scoring_server.get_cmd`` builds (what the CLI ``exec``s), run in this
process, with one correction: uvicorn's ``--workers N`` path binds the listening socket
with ``proto=0``, so asyncio never sets ``TCP_NODELAY`` on the accepted connections, and on
Linux every keep-alive request after a connection's first waits ~40 ms for the client's
delayed ACK (Nagle; Kludex/uvicorn#3149, open). That would be a TCP artifact, not MLflow's
serving cost, so the socket is rebuilt with ``IPPROTO_TCP`` (what ``--workers 1`` gets from
``getaddrinfo``). ``BENCH_MLFLOW_AS_SHIPPED=1`` leaves uvicorn as it is.
"""

from __future__ import annotations

import os
import socket
import sys

import uvicorn.config
import uvicorn.main

_bind_socket = uvicorn.config.Config.bind_socket


def bind_socket(self: uvicorn.config.Config) -> socket.socket:
    """uvicorn's listening socket, with ``proto = IPPROTO_TCP`` for TCP sockets."""
    sock = _bind_socket(self)
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto:
        return sock
    fixed = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, sock.detach())
    fixed.set_inheritable(True)
    return fixed


def main() -> None:
    """Run ``uvicorn`` with the arguments given (patched unless BENCH_MLFLOW_AS_SHIPPED)."""
    if os.environ.get("BENCH_MLFLOW_AS_SHIPPED") != "1":
        uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]
    sys.argv = ["uvicorn", *sys.argv[1:]]
    uvicorn.main.main()


if __name__ == "__main__":
    main()
