"""Events the official account's server configuration (服务器配置) pushes to us: reading them.

WeChat proves a request is its own with a SHA-1 signature over our Token; in safe mode
(安全模式) the XML is AES-256-CBC encrypted with the EncodingAESKey and signed again
(`msg_signature`, over the ciphertext too). Everything here is pure (no database, no network): a request's query
parameters and body in, an `Event` (or None for what we do not record) out, or an
`EventRefused` saying why. Nothing is stored and WeChat is never called from here;
recording is `ballots.follow.wechat.record_event`.

The XML is parsed with defusedxml and any DTD is refused: WeChat never sends one, so a
document with entities or a doctype is not WeChat's.
"""

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings

from ballots.models import FollowEvent
from casevote.errors import Refusal

# A signed request whose timestamp is further than this from our clock is refused: a
# captured request cannot be replayed later. WeChat retries within seconds.
REPLAY_WINDOW = timedelta(minutes=5)
# WeChat's event pushes are well under 2 KB; anything much larger is not one.
MAX_BODY_BYTES = 64 * 1024
# Safe mode pads the plaintext to 32-byte blocks (PKCS#7), not AES's 16.
PKCS7_BLOCK_BITS = 32 * 8
RANDOM_PREFIX_BYTES = 16
AES_KEY_BYTES = 32


class EventRefused(Refusal):
    """A push that is not WeChat's (403) or cannot be read (400); nothing is stored."""

    status_code = 403


class Malformed(EventRefused):
    status_code = 400


# The pushed events we record, by their `Event` field (SCAN is upper case in WeChat's XML).
WECHAT_EVENTS = {
    "subscribe": FollowEvent.Kind.SUBSCRIBE,
    "unsubscribe": FollowEvent.Kind.UNSUBSCRIBE,
    "SCAN": FollowEvent.Kind.SCAN,
}


@dataclass(frozen=True)
class Config:
    token: str
    app_id: str
    aes_key: bytes | None  # None: plaintext mode


@dataclass(frozen=True)
class Event:
    openid: str
    kind: str
    created_at: datetime
    event_key: str = ""


def current_config() -> Config:
    """The endpoint's settings; a malformed key is reported by the system checks."""
    encoding_key = settings.CASEVOTE_WECHAT_ENCODING_AES_KEY
    return Config(
        token=settings.CASEVOTE_WECHAT_EVENT_TOKEN,
        app_id=settings.CASEVOTE_WECHAT_APP_ID,
        aes_key=aes_key(encoding_key) if encoding_key else None,
    )


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of an EncodingAESKey (43 characters of base64 without its "=")."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("EncodingAESKey is not base64") from None
    if len(encoding_aes_key) != 43 or len(key) != AES_KEY_BYTES:
        raise ValueError("EncodingAESKey must be 43 characters that decode to 32 bytes")
    return key


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 (hex) of the parts sorted and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (WeChat's)


def check_signature(expected_parts: tuple[str, ...], given: str) -> None:
    if not hmac.compare_digest(signature(*expected_parts), given.lower()):
        raise EventRefused("signature mismatch")


def check_fresh(timestamp: str, now: datetime) -> None:
    """A signed timestamp within REPLAY_WINDOW of `now` (either side)."""
    try:
        sent = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise EventRefused("bad timestamp") from None
    if abs(now - sent) > REPLAY_WINDOW:
        raise EventRefused("stale timestamp")


def verify_plain(config: Config, params, now: datetime) -> None:
    """The `signature` over [token, timestamp, nonce] and a fresh timestamp."""
    if not config.token:
        raise EventRefused("no token configured")
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    check_signature((config.token, timestamp, nonce), params.get("signature", ""))
    check_fresh(timestamp, now)


def echo(config: Config, params, now: datetime) -> str:
    """The answer to WeChat's GET verification: `echostr`, when the signature is ours."""
    verify_plain(config, params, now)
    return params.get("echostr", "")


def parse_xml(body: bytes) -> dict[str, str]:
    """The top-level fields of a WeChat XML document; no DTD, no entities."""
    if len(body) > MAX_BODY_BYTES:
        raise Malformed("body too large")
    try:
        root: Element = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise Malformed("malformed XML") from None
    if root.tag != "xml":
        raise Malformed("not a WeChat message")
    return {child.tag: (child.text or "").strip() for child in root}


def decrypt(encrypted: str, key: bytes, app_id: str) -> bytes:
    """Safe mode's plaintext: AES-256-CBC (IV = the key's first 16 bytes), PKCS#7 to 32
    bytes, then 16 random bytes, a 4-byte network-order length, the XML and the AppID."""
    try:
        ciphertext = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("Encrypt is not base64") from None
    if not ciphertext or len(ciphertext) % 16:
        raise Malformed("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(PKCS7_BLOCK_BITS).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise EventRefused("bad padding") from None
    body = plain[RANDOM_PREFIX_BYTES:]
    if len(body) < 4:
        raise EventRefused("bad plaintext")
    (length,) = struct.unpack("!I", body[:4])
    xml, sender = body[4 : 4 + length], body[4 + length :]
    if len(xml) != length or not hmac.compare_digest(sender, app_id.encode()):
        raise EventRefused("not for this AppID")
    return xml


def verified_fields(config: Config, params, body: bytes, now: datetime) -> dict[str, str]:
    """The pushed XML's fields, once WeChat's signature(s) and freshness are checked."""
    verify_plain(config, params, now)
    if config.aes_key is None:
        return parse_xml(body)
    # Safe mode: only ciphertext is accepted, signed with msg_signature.
    if params.get("encrypt_type") != "aes":
        raise EventRefused("safe mode expects encrypt_type=aes")
    encrypted = parse_xml(body).get("Encrypt", "")
    if not encrypted:
        raise Malformed("no Encrypt element")
    parts = (config.token, params.get("timestamp", ""), params.get("nonce", ""), encrypted)
    check_signature(parts, params.get("msg_signature", ""))
    return parse_xml(decrypt(encrypted, config.aes_key, config.app_id))


def read_event(fields: dict[str, str]) -> Event | None:
    """The follow event in a pushed message, or None for anything we do not record
    (messages, menu clicks, location reports…)."""
    if fields.get("MsgType") != "event" or fields.get("Event") not in WECHAT_EVENTS:
        return None
    openid = fields.get("FromUserName", "")
    if not 0 < len(openid) <= 64:
        raise Malformed("bad FromUserName")
    try:
        created_at = datetime.fromtimestamp(int(fields.get("CreateTime", "")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise Malformed("bad CreateTime") from None
    kind = WECHAT_EVENTS[fields["Event"]]
    return Event(openid, kind, created_at, fields.get("EventKey", "")[:128])


def received_event(config: Config, params, body: bytes, now: datetime) -> Event | None:
    """Verify, decrypt and read one push: the whole of what the view asks."""
    return read_event(verified_fields(config, params, body, now))
