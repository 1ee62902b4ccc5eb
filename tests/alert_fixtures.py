"""Fixtures and helpers of the alert tests: a local HTTP server as the Slack
webhook (`slack`), a local SMTP server (`smtp`, aiosmtpd), system.yaml text, an engine
with the project's alerts listening."""
from __future__ import annotations

import contextlib
import email
import email.policy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import free_port

from dataflow.alerts.service import AlertService

TOKEN = "XyZwebhookTOKEN987"
ONE = "pipelines:\n  p: {hooks: [load]}\n"


class SlackHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.server.delay)
        self.server.posts.append(body)
        self.server.paths.append(self.path)
        with contextlib.suppress(OSError):      # the client may have given up
            self.send_response(200)
            self.end_headers()

    log_message = lambda self, *args: None      # noqa: E731 -- quiet


@pytest.fixture
def slack():
    """A webhook on loopback: `.url`, and `.posts` (JSON bodies) and `.paths` received;
    set `.delay` to make it slow."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackHandler)
    server.daemon_threads, server.posts, server.paths, server.delay = True, [], [], 0.0
    server.url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/{TOKEN}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


class Mailbox:
    """What a local SMTP server received: (recipients, parsed message) pairs."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 OK"


@contextlib.contextmanager
def smtp_server(password: str | None = None):
    """A real SMTP server on loopback (aiosmtpd); with `password`, logins must give it.
    Yields its Mailbox, with `.port`."""
    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=auth_data.password == password.encode(), handled=False)
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(),
                            **({"authenticator": authenticate, "auth_require_tls": False}
                               if password else {}))
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp():
    with smtp_server() as mailbox:
        yield mailbox


def slack_system(url: str, **alerts) -> str:
    lines = [f"    {key}: {value}" for key, value in alerts.items()]
    return "\n".join(["alerts:", "  slack:", f"    webhook_url: {url}",
                      *[line[2:] for line in lines]]) + "\n"


def unreachable_url() -> str:
    return f"http://127.0.0.1:{free_port()}/services/T000/B000/{TOKEN}"


def alerting(engine_for, directory):
    """An engine on the shared cluster with the project's alerts listening to it."""
    engine = engine_for(directory)
    alerts = AlertService.for_project(engine.project)
    engine.add_listener(alerts.on_event, "alerts")
    return engine, alerts


def delivered(engine, alerts) -> None:
    """Every event handed to the alerts, every alert (and repeat summary) sent."""
    assert engine.observers.drain(10)
    assert alerts.dispatcher.flush(15)


def by_level(posts, level: str) -> list[dict]:
    return [p for p in posts if p["text"].startswith(f"[{level}")]
