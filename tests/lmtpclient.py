"""A minimal LMTP client (RFC 2033) for the tests and bench: one reply per recipient after
DATA, which smtplib does not read."""

from __future__ import annotations

import contextlib
import socket


class LMTPClient:
    """One connection to an LMTP server; send() delivers one message."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        if address.startswith("unix:"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address[len("unix:") :])
        else:
            host, _, port = address.rpartition(":")
            self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self._reply()  # greeting
        self._command(b"LHLO test.example")

    def _reply(self) -> str:
        """One (possibly multi-line) reply: its last line."""
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            if line[3:4] != b"-":
                return line.decode("utf-8", "replace").rstrip("\r\n")

    def _command(self, line: bytes) -> str:
        self.sock.sendall(line + b"\r\n")
        return self._reply()

    def send(self, sender: str, recipients: list[str], raw: bytes) -> list[str]:
        """Deliver `raw`; the reply to each RCPT that was refused, or else to DATA, per
        recipient in order."""
        self._command(f"MAIL FROM:<{sender}>".encode())
        replies: list[str | None] = []
        for rcpt in recipients:
            reply = self._command(f"RCPT TO:<{rcpt}>".encode())
            replies.append(None if reply.startswith("250") else reply)
        if all(r is not None for r in replies):
            self._command(b"RSET")
            return [r for r in replies if r is not None]
        self._command(b"DATA")
        lines = raw.replace(b"\r\n", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        body = b"".join(
            (b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines
        )
        self.sock.sendall(body + b".\r\n")
        return [r if r is not None else self._reply() for r in replies]

    def close(self) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            self._command(b"QUIT")
        self.file.close()
        self.sock.close()
