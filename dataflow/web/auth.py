"""Who may use the server, and from where.

With an admin token configured (always when bound beyond loopback; on loopback too once
one is set), the Panel pages need a login: /login takes the token and sets a signed,
HttpOnly, SameSite=Strict session cookie (Secure over HTTPS), plus a readable
`dataflow_csrf` cookie whose value state-changing API calls made with the session cookie
must echo in an `X-CSRF-Token` header (double submit). API clients send
`Authorization: Bearer <token>` instead. With no token, no login at all.

Every state-changing request, token or not, is refused when its Origin (or, lacking one,
its Referer) names another host; on loopback the Host header itself must be a loopback
name, so a rebound DNS name cannot reach the API.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from html import escape
from urllib.parse import urlsplit

from bokeh.server.auth_provider import AuthProvider
from tornado.web import HTTPError, RequestHandler

from dataflow.web.context import LOOPBACK, WebContext

SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "dataflow_session", "dataflow_csrf", "X-CSRF-Token"
SESSION_DAYS = 7
FAILED_LOGIN_DELAY = 0.5       # seconds; slows guessing without bothering a person
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>dataflow · sign in</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:15vh auto;padding:0 1rem}}
input,button{{width:100%;padding:.5rem;margin:.3rem 0;box-sizing:border-box}}
.error{{color:#b00020}}</style></head><body><h1>dataflow</h1>
<p>Sign in with the admin token.</p>{error}<form method="post" action="/login">
<input type="hidden" name="next" value="{next}"><label for="token">Admin token</label>
<input id="token" type="password" name="token" autocomplete="current-password" autofocus required>
<button type="submit">Sign in</button></form></body></html>"""


def auth_options(web: WebContext) -> dict:
    """Extra `pn.serve` arguments: a login for the Panel pages when a token is set."""
    return {"auth_provider": TokenAuth(web)} if web.token else {}


def token_matches(web: WebContext, given: str | None) -> bool:
    token = web.token
    if not token or given is None:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def read_session(handler: RequestHandler) -> dict | None:
    """The signed session cookie's content, or None (absent, forged or expired)."""
    raw = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=SESSION_DAYS)
    try:
        session = json.loads(raw) if raw else None
    except ValueError:
        return None
    return session if isinstance(session, dict) and session.get("csrf") else None


def _host_of(url: str) -> str:
    return (urlsplit(url).netloc or "").lower()


def own_hosts(web: WebContext, handler: RequestHandler) -> set[str]:
    """host:port names this server answers as: on loopback its loopback names, otherwise
    whatever Host the request came to (the token guards a public address)."""
    if web.address in LOOPBACK:
        port = web.port
        return {f"{host}:{port}" for host in ("127.0.0.1", "localhost", "[::1]", web.address)}
    return {handler.request.host.lower()}


def check_host(web: WebContext, handler: RequestHandler) -> None:
    if handler.request.host.lower() not in own_hosts(web, handler):
        raise HTTPError(403, f"requests to this server must name it as one of "
                             f"{', '.join(sorted(own_hosts(web, handler)))} (Host header)")


def check_origin(web: WebContext, handler: RequestHandler) -> None:
    """Refuse a cross-site request: an Origin (else Referer) naming another host."""
    headers = handler.request.headers
    source = headers.get("Origin") or headers.get("Referer")
    if source is not None and _host_of(source) not in own_hosts(web, handler):
        named = "Origin" if headers.get("Origin") else "Referer"
        raise HTTPError(403, f"cross-site request refused: {named} {source[:200]!r} is not "
                             "this server")


def api_identity(web: WebContext, handler: RequestHandler) -> str:
    """How the caller proved itself: "none" (no token configured), "token" or "cookie";
    HTTPError 401 when a token is configured and neither a right Bearer token nor a
    session cookie came."""
    if not web.token:
        return "none"
    header = handler.request.headers.get("Authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and token_matches(web, given.strip()):
            return "token"
        raise HTTPError(401, "invalid admin token (send Authorization: Bearer <token>)")
    if read_session(handler) is not None:
        return "cookie"
    raise HTTPError(401, "authentication required: send Authorization: Bearer <admin token>, "
                         "or sign in at /login")


def check_csrf(handler: RequestHandler) -> None:
    """A cookie-authenticated change must echo the session's CSRF token in a header."""
    session = read_session(handler) or {}
    given = handler.request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode(), str(session.get("csrf", "")).encode()) or not given:
        raise HTTPError(403, f"missing or wrong {CSRF_HEADER} header: send the value of the "
                             f"{CSRF_COOKIE} cookie set at login")


def _safe_next(target: str | None) -> str:
    """Only a path on this server (no scheme, no //host) may be the place to return to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class LoginPage(RequestHandler):
    """GET shows the form; POST checks the token, sets the cookies and goes to `next`."""

    web: WebContext

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Content-Security-Policy", "default-src 'none'; "
                        "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")

    def _page(self, error: str = "") -> None:
        target = _safe_next(self.get_argument("next", "/"))
        shown = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE.format(error=shown, next=escape(target, quote=True)))

    def get(self) -> None:
        self._page()

    async def post(self) -> None:
        check_origin(self.web, self)
        if not token_matches(self.web, self.get_body_argument("token", None)):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            self.set_status(401)
            return self._page("That is not the admin token.")
        csrf = secrets.token_urlsafe(24)
        secure = self.request.protocol == "https"
        self.set_signed_cookie(SESSION_COOKIE, json.dumps({"csrf": csrf}),
                               expires_days=SESSION_DAYS, httponly=True, secure=secure,
                               samesite="Strict")
        self.set_cookie(CSRF_COOKIE, csrf, expires_days=SESSION_DAYS, secure=secure,
                        samesite="Strict")
        self.redirect(_safe_next(self.get_body_argument("next", "/")))


class LogoutPage(RequestHandler):
    def get(self) -> None:
        self.clear_cookie(SESSION_COOKIE)
        self.clear_cookie(CSRF_COOKIE)
        self.redirect("/login")


class TokenAuth(AuthProvider):
    """Bokeh's auth hook: a page needs the session cookie; /login and /logout are ours."""

    def __init__(self, web: WebContext):
        self.web = web
        self._login = type("Login", (LoginPage,), {"web": web})
        super().__init__()

    @property
    def get_user(self):
        return lambda handler: "admin" if read_session(handler) is not None else None

    @property
    def login_url(self) -> str:
        return "/login"

    @property
    def login_handler(self):
        return self._login

    @property
    def logout_url(self) -> str:
        return "/logout"

    @property
    def logout_handler(self):
        return LogoutPage
