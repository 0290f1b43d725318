"""A fake of the few WeChat official-account APIs the WeChat gate calls, on 127.0.0.1.

It answers like WeChat (JSON, `errcode` on errors) and can be told to misbehave:

    fake.follow("o-alice", subscribe_time=..., qr_scene_str="poster")  # subscribe = 1
    fake.unfollow("o-alice")                                            # subscribe = 0
    code = fake.code_for("o-alice")        # what WeChat's authorise page would hand back
    fake.expire_tokens()                   # issued access tokens now answer errcode 42001
    fake.answers["cgi-bin/user/info"] = {"errcode": 45009, "errmsg": "quota"}  # or raw bytes
    fake.delays["cgi-bin/token"] = 2.0     # seconds before answering
    fake.calls["cgi-bin/token"]            # how many times each endpoint was called
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-app-secret-0123456789abcdef"  # noqa: S105
TOKEN_EXPIRES_IN = 7200


class FakeWeChat:
    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET):
        self.app_id = app_id
        self.secret = secret
        self.users: dict[str, dict] = {}
        self.codes: dict[str, str] = {}
        self.used_codes: set[str] = set()
        self.valid_tokens: set[str] = set()
        self.expired_tokens: set[str] = set()
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
        with self.lock:
            code = f"code{len(self.codes):04d}{openid[-6:]}"
            self.codes[code] = openid
            return code

    def expire_tokens(self) -> None:
        with self.lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- the endpoints -------------------------------------------------------------

    def answer(self, endpoint: str, params: dict[str, str]) -> dict | bytes:
        with self.lock:
            if endpoint in self.answers:
                return self.answers[endpoint]
            if endpoint == "cgi-bin/token":
                return self._token(params)
            if endpoint == "sns/oauth2/access_token":
                return self._exchange(params)
            if endpoint == "cgi-bin/user/info":
                return self._user_info(params)
        return {"errcode": 40066, "errmsg": "invalid url"}

    def _bad_credentials(self, params: dict[str, str]) -> dict | None:
        if params.get("appid") != self.app_id:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if params.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return None

    def _token(self, params: dict[str, str]) -> dict:
        if refusal := self._bad_credentials(params):
            return refusal
        token = f"ACCESS_TOKEN_{len(self.valid_tokens | self.expired_tokens) + 1}"
        self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": TOKEN_EXPIRES_IN}

    def _exchange(self, params: dict[str, str]) -> dict:
        if refusal := self._bad_credentials(params):
            return refusal
        code = params.get("code", "")
        if code in self.used_codes:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in self.codes:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.used_codes.add(code)
        return {
            "access_token": "WEB_ACCESS_TOKEN",
            "expires_in": TOKEN_EXPIRES_IN,
            "refresh_token": "REFRESH_TOKEN",
            "openid": self.codes[code],
            "scope": "snsapi_base",
        }

    def _user_info(self, params: dict[str, str]) -> dict:
        token = params.get("access_token", "")
        if token in self.expired_tokens:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if token not in self.valid_tokens:
            return {"errcode": self.invalid_token_errcode, "errmsg": "invalid credential"}
        openid = params.get("openid", "")
        return self.users.get(openid, {"subscribe": 0, "openid": openid})

    # --- the server ----------------------------------------------------------------

    def start(self) -> "FakeWeChat":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                endpoint = url.path.strip("/")
                params = {key: values[0] for key, values in parse_qs(url.query).items()}
                with fake.lock:
                    fake.calls[endpoint] += 1
                delay = fake.delays.get(endpoint, 0)
                if delay:
                    time.sleep(delay)
                answer = fake.answer(endpoint, params)
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
