"""Print which local services answer, for `make test` (stdlib only: runs before the venv exists)."""

import socket
import sys


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


service = sys.argv[1]
ports = {"postgres": 5432, "redis": 6379}
sys.exit(0 if answers("127.0.0.1", ports[service]) else 1)
