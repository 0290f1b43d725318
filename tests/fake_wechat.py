"""A fake of the few WeChat official-account APIs the WeChat gate calls, on 127.0.0.1.

It answers like WeChat (JSON, `errcode` on errors) and is as strict as WeChat's
documentation says WeChat is:

- an authorisation `code` is single-use and expires 5 minutes after it was issued;
- `cgi-bin/token` invalidates the previous token each time it is called (so another
  system of the same account fetching a token makes ours "not the latest": 40001),
  while `cgi-bin/stable_token` (POST JSON) hands every caller the same current token
  unless `force_refresh`; the two kinds of token are isolated from each other;
- a wrong secret answers 40001 at the token endpoints (40125 at the code exchange),
  an unknown `grant_type` 40002, an unknown parameter 40097;
- `cgi-bin/user/info` answers 40003 for an openid that is not of this account;
- `cgi-bin/ticket/getticket?type=jsapi` hands out the JS-SDK ticket, the same one to
  every caller until it expires (7200 s), and only for a valid access token;
- `authorise(url, openid)` accepts only the exact authorise URL WeChat checks, with a
  `redirect_uri` on the account's 网页授权域名 (`oauth_domain`).

It can be told to misbehave:

    fake.follow("o-alice", subscribe_time=..., qr_scene_str="poster")  # subscribe = 1
    fake.unfollow("o-alice")                                            # subscribe = 0
    code = fake.code_for("o-alice")        # what WeChat's authorise page would hand back
    fake.expire_tokens()                   # issued access tokens now answer errcode 42001
    fake.expire_ticket()                   # the next getticket hands out a new jsapi_ticket
    fake.answers["cgi-bin/user/info"] = {"errcode": 45009, "errmsg": "quota"}  # or raw bytes
    fake.delays["cgi-bin/stable_token"] = 2.0   # seconds before answering
    fake.calls["cgi-bin/stable_token"]          # how many times each endpoint was called
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-app-secret-0123456789abcdef"  # noqa: S105
TOKEN_EXPIRES_IN = 7200
CODE_LIFETIME = 300  # "code 5 分钟未被使用自动过期"
AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
OAUTH_DOMAIN = "vote.example.cn"

TOKEN_PARAMS = {"grant_type", "appid", "secret"}
STABLE_TOKEN_PARAMS = {"grant_type", "appid", "secret", "force_refresh"}
EXCHANGE_PARAMS = {"appid", "secret", "code", "grant_type"}
USER_INFO_PARAMS = {"access_token", "openid", "lang"}
TICKET_PARAMS = {"access_token", "type"}
TICKET_EXPIRES_IN = 7200


class AuthoriseRefused(Exception):
    """What WeChat's authorise page shows instead of sending the visitor back."""


class FakeWeChat:
    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET):
        self.app_id = app_id
        self.secret = secret
        self.oauth_domain = OAUTH_DOMAIN
        self.users: dict[str, dict] = {}
        self.codes: dict[str, tuple[str, float]] = {}  # code -> (openid, issued at)
        self.used_codes: set[str] = set()
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
        self.stable_token: tuple[str, float] | None = None  # (token, expires at)
        self.issued = 0
        self.ticket: tuple[str, float] | None = None  # (jsapi_ticket, expires at)
        self.invalid_token_errcode = 40001  # or 40014, as WeChat answers some unknown tokens
        self.answers: dict[str, dict | bytes] = {}
        self.delays: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what the tests configure --------------------------------------------------

    def follow(self, openid: str, subscribe_time: int, qr_scene: int = 0, qr_scene_str: str = ""):
        with self.lock:
            self.users[openid] = {
                "subscribe": 1,
                "openid": openid,
                "language": "zh_CN",
                "subscribe_time": subscribe_time,
                "unionid": "",
                "remark": "",
                "groupid": 0,
                "tagid_list": [],
                "subscribe_scene": "ADD_SCENE_QR_CODE" if qr_scene_str else "ADD_SCENE_SEARCH",
                "qr_scene": qr_scene,
                "qr_scene_str": qr_scene_str,
            }

    def unfollow(self, openid: str) -> None:
        with self.lock:
            self.users[openid] = {"subscribe": 0, "openid": openid}

    def code_for(self, openid: str) -> str:
        """A code for `openid`, as the authorise page hands out (the openid becomes one
        of this account's, followed or not)."""
        with self.lock:
            code = f"code{len(self.codes):04d}{openid[-6:]}"
            self.codes[code] = (openid, time.time())
            self.users.setdefault(openid, {"subscribe": 0, "openid": openid})
            return code

    def authorise(self, url: str, openid: str) -> str:
        """What WeChat's authorise page does with the URL the site redirected to: compare
        it, as the exact string WeChat checks, with the URL it documents, and send the
        visitor back to `redirect_uri?code=CODE&state=STATE`; or AuthoriseRefused."""
        parts = urlsplit(url)
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        redirect_uri, state = params.get("redirect_uri", ""), params.get("state", "")
        expected = (
            f"{AUTHORIZE_URL}?appid={self.app_id}&redirect_uri={quote(redirect_uri, safe='')}"
            f"&response_type=code&scope=snsapi_base&state={state}#wechat_redirect"
        )
        if url != expected:
            raise AuthoriseRefused(f"参数错误: {url!r} is not {expected!r}")
        target = urlsplit(redirect_uri)
        if target.scheme != "https" or target.netloc != self.oauth_domain:
            raise AuthoriseRefused(f"redirect_uri 域名与后台配置不一致 (10003): {redirect_uri}")
        if len(state) > 128 or not state.isalnum():
            raise AuthoriseRefused("state 参数错误")
        return f"{redirect_uri}?code={self.code_for(openid)}&state={state}"

    def expire_tokens(self) -> None:
        with self.lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()
            if self.stable_token is not None:
                self.stable_token = (self.stable_token[0], time.time() - 1)

    def expire_ticket(self) -> None:
        with self.lock:
            if self.ticket is not None:
                self.ticket = (self.ticket[0], time.time() - 1)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- the endpoints -------------------------------------------------------------

    def answer(self, endpoint: str, params: dict[str, str], body: bytes = b"") -> dict | bytes:
        with self.lock:
            if endpoint in self.answers:
                return self.answers[endpoint]
            if endpoint == "cgi-bin/token":
                return self._token(params)
            if endpoint == "cgi-bin/stable_token":
                return self._stable_token(params, body)
            if endpoint == "sns/oauth2/access_token":
                return self._exchange(params)
            if endpoint == "cgi-bin/user/info":
                return self._user_info(params)
            if endpoint == "cgi-bin/ticket/getticket":
                return self._ticket(params)
        return {"errcode": 40066, "errmsg": "invalid url"}

    def _bad_credentials(self, params: dict, wrong_secret: int) -> dict | None:
        if params.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if params.get("secret") != self.secret:
            return {"errcode": wrong_secret, "errmsg": "invalid appsecret"}
        return None

    @staticmethod
    def _unknown(params: dict, allowed: set[str]) -> dict | None:
        if set(params) - allowed:
            return {"errcode": 40097, "errmsg": "invalid args"}
        return None

    def _new_token(self, kind: str) -> str:
        self.issued += 1
        return f"{kind}_{self.issued}"

    def _token(self, params: dict[str, str]) -> dict:
        if refusal := self._unknown(params, TOKEN_PARAMS):
            return refusal
        if params.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if refusal := self._bad_credentials(params, 40001):
            return refusal
        token = self._new_token("ACCESS_TOKEN")
        self.expired_tokens |= {t for t in self.valid_tokens if t.startswith("ACCESS_TOKEN")}
        self.valid_tokens = {t for t in self.valid_tokens if not t.startswith("ACCESS_TOKEN")}
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": TOKEN_EXPIRES_IN}

    def _stable_token(self, params: dict, body: bytes) -> dict:
        try:
            params = json.loads(body.decode())
        except (UnicodeDecodeError, ValueError):
            return {"errcode": 47001, "errmsg": "data format error"}
        if not isinstance(params, dict):
            return {"errcode": 47001, "errmsg": "data format error"}
        if refusal := self._unknown(params, STABLE_TOKEN_PARAMS):
            return refusal
        if params.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if refusal := self._bad_credentials(params, 40001):
            return refusal
        now = time.time()
        current = self.stable_token
        if params.get("force_refresh") is True or current is None or current[1] <= now:
            if current is not None:
                self.valid_tokens.discard(current[0])
                self.expired_tokens.add(current[0])
            current = (self._new_token("STABLE_TOKEN"), now + TOKEN_EXPIRES_IN)
            self.stable_token = current
            self.valid_tokens.add(current[0])
        return {"access_token": current[0], "expires_in": int(current[1] - now)}

    def _exchange(self, params: dict[str, str]) -> dict:
        if refusal := self._unknown(params, EXCHANGE_PARAMS):
            return refusal
        if params.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if refusal := self._bad_credentials(params, 40125):
            return refusal
        code = params.get("code", "")
        if code in self.used_codes:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in self.codes or time.time() - self.codes[code][1] > CODE_LIFETIME:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.used_codes.add(code)
        return {
            "access_token": "WEB_ACCESS_TOKEN",
            "expires_in": TOKEN_EXPIRES_IN,
            "refresh_token": "REFRESH_TOKEN",
            "openid": self.codes[code][0],
            "scope": "snsapi_base",
        }

    def _token_refusal(self, token: str) -> dict | None:
        if token in self.expired_tokens:
            errcode = 42001 if token.startswith("STABLE") else self.invalid_token_errcode
            return {"errcode": errcode, "errmsg": "access_token expired or not latest"}
        if token not in self.valid_tokens:
            return {"errcode": self.invalid_token_errcode, "errmsg": "invalid credential"}
        return None

    def _user_info(self, params: dict[str, str]) -> dict:
        if refusal := self._unknown(params, USER_INFO_PARAMS):
            return refusal
        if refusal := self._token_refusal(params.get("access_token", "")):
            return refusal
        openid = params.get("openid", "")
        if openid not in self.users:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        return self.users[openid]

    def _ticket(self, params: dict[str, str]) -> dict:
        if refusal := self._unknown(params, TICKET_PARAMS):
            return refusal
        if params.get("type") != "jsapi":
            return {"errcode": 40097, "errmsg": "invalid args"}
        if refusal := self._token_refusal(params.get("access_token", "")):
            return refusal
        now = time.time()
        if self.ticket is None or self.ticket[1] <= now:
            self.issued += 1
            self.ticket = (f"JSAPI_TICKET_{self.issued}", now + TICKET_EXPIRES_IN)
        ticket, expires_at = self.ticket
        return {"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": int(expires_at - now)}

    # --- the server ----------------------------------------------------------------

    def start(self) -> "FakeWeChat":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self._handle(b"")

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._handle(self.rfile.read(length))

            def _handle(self, body: bytes):
                url = urlsplit(self.path)
                endpoint = url.path.strip("/")
                params = {key: values[0] for key, values in parse_qs(url.query).items()}
                with fake.lock:
                    fake.calls[endpoint] += 1
                delay = fake.delays.get(endpoint, 0)
                if delay:
                    time.sleep(delay)
                answer = fake.answer(endpoint, params, body)
                body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format, *args):  # noqa: A002
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
