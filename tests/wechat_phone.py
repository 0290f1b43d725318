"""A phone inside WeChat, over loopback HTTP (standard library only): for the tiers that
talk to a running server (load, cluster) with the WeChat gate against tests/fake_wechat."""

import http.client
import time
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from tests.fake_wechat import FakeWeChat
from tools.harness import LOOPBACK

WECHAT_UA = "Mozilla/5.0 (iPhone) Mobile/15E148 MicroMessenger/8.0.50 NetType/WIFI"


def get(port: int, path: str, cookie: str = "") -> tuple[int, dict, float]:
    """Status, headers and seconds taken of one GET from a phone in WeChat."""
    began = time.monotonic()
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        headers = {"User-Agent": WECHAT_UA} | ({"Cookie": cookie} if cookie else {})
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        headers = dict(response.getheaders())
        headers["Set-Cookie"] = "\n".join(response.msg.get_all("Set-Cookie") or [])
        return response.status, headers, time.monotonic() - began
    finally:
        connection.close()


def sent_to_wechat(port: int, fake: FakeWeChat, openid: str) -> tuple[str, str]:
    """Open /vote/, go through the authorise page: (the flow cookie, the callback path)."""
    status, headers, _ = get(port, "/vote/")
    assert status == 302
    cookie = SimpleCookie()
    for line in headers["Set-Cookie"].splitlines():
        cookie.load(line)
    callback = urlsplit(fake.authorise(headers["Location"], openid))
    flow = "; ".join(f"{name}={morsel.value}" for name, morsel in cookie.items())
    return flow, f"{callback.path}?{callback.query}"
