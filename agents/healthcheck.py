"""The container's health check: is this container's process answering `/healthz`?

    python -m agents.healthcheck

One image runs every role; a worker answers on BACKUPWATCH_WEB_PORT, the notifier on
BACKUPWATCH_NOTIFY_WEB_PORT, each on its own container. Healthy (exit 0) when either
answers 200 on loopback within the timeout, else exit 1 with one line saying what was
tried. Reads the two variables only, so a setting the process itself would refuse
does not make the check fail for another reason.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

__all__ = ["main"]

_TIMEOUT = 5.0


def _answers(port: str) -> bool:
    try:
        url = f"http://127.0.0.1:{int(port)}/healthz"
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response:  # noqa: S310
            return int(response.status) == 200
    except (OSError, ValueError, urllib.error.URLError):
        return False


def main() -> int:
    ports = (
        os.environ.get("BACKUPWATCH_WEB_PORT", "").strip() or "6066",
        os.environ.get("BACKUPWATCH_NOTIFY_WEB_PORT", "").strip() or "6067",
    )
    if any(_answers(port) for port in ports):
        return 0
    print(f"backupwatch: no /healthz answered on 127.0.0.1 ports {', '.join(ports)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
