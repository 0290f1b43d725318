"""A fake of WeChat's server pushing to the official account's 服务器配置 URL.

It builds each request exactly as WeChat documents it (接入指南, 消息加解密): the
`signature` over the sorted [token, timestamp, nonce]; in safe mode (安全模式) the XML
encrypted with AES-256-CBC under the EncodingAESKey (16 random bytes, a 4-byte
network-order length, the XML, the AppID; PKCS#7 to 32 bytes; IV = the key's first 16
bytes), wrapped in <Encrypt>, and `msg_signature` over [token, timestamp, nonce, Encrypt].
Written here independently of the site's code, with the `cryptography` package:

    pusher = WeChatPusher(token, app_id, encoding_aes_key=None)   # or a 43-character key
    pusher.verify(client, echostr="...")                          # WeChat's GET check
    pusher.push(client, pusher.event("o-alice", "subscribe", create_time))
    pusher.push(client, xml, timestamp=..., signature="forged", app_id="wx-other")
"""

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

URL = "/wechat/events/"
ACCOUNT = "gh_97417a04a28d"  # the account's original id, as in WeChat's example


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (WeChat's)


def encrypt(xml: bytes, encoding_aes_key: str, app_id: str) -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    plain = os.urandom(16) + struct.pack("!I", len(xml)) + xml + app_id.encode()
    padder = padding.PKCS7(256).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


class WeChatPusher:
    def __init__(self, token: str, app_id: str, encoding_aes_key: str | None = None):
        self.token = token
        self.app_id = app_id
        self.encoding_aes_key = encoding_aes_key
        self.nonces = 0

    def _nonce(self) -> str:
        self.nonces += 1
        return str(486452656 + self.nonces)

    def verify(self, client, *, timestamp: int, echostr: str, signature: str | None = None):
        nonce = self._nonce()
        params = {
            "signature": signature or sha1_sorted(self.token, str(timestamp), nonce),
            "timestamp": str(timestamp),
            "nonce": nonce,
            "echostr": echostr,
        }
        return client.get(URL, params)

    @staticmethod
    def event(openid: str, event: str, create_time: int, event_key: str | None = None) -> str:
        key = "" if event_key is None else f"<EventKey><![CDATA[{event_key}]]></EventKey>"
        return (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>{key}</xml>"
        )

    def push(
        self,
        client,
        xml: str | bytes,
        *,
        timestamp: int,
        signature: str | None = None,
        msg_signature: str | None = None,
        app_id: str | None = None,
        encrypted: bool | None = None,
    ):
        """POST `xml` as WeChat would; the keyword arguments forge one part of it."""
        body = xml.encode() if isinstance(xml, str) else xml
        nonce = self._nonce()
        params = {
            "signature": signature or sha1_sorted(self.token, str(timestamp), nonce),
            "timestamp": str(timestamp),
            "nonce": nonce,
            "openid": "o-in-the-url",
        }
        if encrypted if encrypted is not None else self.encoding_aes_key:
            ciphertext = encrypt(body, self.encoding_aes_key, app_id or self.app_id)
            body = (
                f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>"
            ).encode()
            params["encrypt_type"] = "aes"
            params["msg_signature"] = msg_signature or sha1_sorted(
                self.token, str(timestamp), nonce, ciphertext
            )
        query = "&".join(f"{name}={value}" for name, value in params.items())
        return client.post(f"{URL}?{query}", body, content_type="text/xml")
