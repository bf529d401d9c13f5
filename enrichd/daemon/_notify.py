"""A tiny sd_notify client: service state messages to systemd over ``$NOTIFY_SOCKET``.

systemd's ``Type=notify`` protocol is one AF_UNIX datagram per message of newline-separated
``KEY=VALUE`` fields. The socket is a file system path or, when it starts with ``@``, a name in
the abstract namespace. Without ``$NOTIFY_SOCKET`` (not run by systemd) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("enrichd")


class Notifier:
    """Sends state messages (``READY=1``, ``WATCHDOG=1``, ...) to the service manager."""

    def __init__(self, address: str | None) -> None:
        self.address = _socket_address(address) if address else None

    @classmethod
    def from_env(cls) -> Notifier:
        """A notifier for ``$NOTIFY_SOCKET``; one that does nothing when it is unset."""
        return cls(os.environ.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        """Whether messages go anywhere."""
        return self.address is not None

    def notify(self, **fields: str | int) -> bool:
        """Send ``fields`` as one message (``notify(READY=1, STATUS="...")``); True if sent.

        Never raises and never blocks: a service manager that is gone or busy must not stop the
        daemon, so a failed send is logged and dropped.
        """
        if self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("could not notify systemd (%s): %s", ", ".join(fields), exc)
            return False
        return True


def _socket_address(address: str) -> str | None:
    if address.startswith("@"):
        # Abstract namespace: the kernel's name starts with a NUL byte, not "@".
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    log.warning("ignoring NOTIFY_SOCKET=%r: not a socket path or an abstract name", address)
    return None


def watchdog_seconds() -> float | None:
    """systemd's ``WatchdogSec=`` for this process, from ``$WATCHDOG_USEC``; None if off.

    ``$WATCHDOG_PID``, when set, names the process the watchdog is meant for: a child that
    inherited the environment must not ping on its parent's behalf.
    """
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None
