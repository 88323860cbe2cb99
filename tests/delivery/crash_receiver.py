"""Crash-test receiver: a loopback HTTP endpoint that records every request it acknowledges.

Prints ``port <n>`` when ready, then one line ``<webhook-id> <call id> <sequence> <attempt>``
per request, before answering 200. Run: ``python crash_receiver.py``.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        call_id = json.loads(body)["message"]["call"]["id"]
        line = " ".join(
            (
                self.headers["webhook-id"],
                call_id,
                self.headers["x-callhook-call-sequence"],
                self.headers["x-callhook-attempt"],
            )
        )
        with _lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Connections reset by the killed sender are expected; say nothing."""


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
