"""{% wechat_share_card %}: the WeChat share card of a page (ballots.follow.jssdk).

The case and campaign pages belong to `cases`, which knows nothing of WeChat; their
templates ask here. Nothing is rendered unless the WeChat backend is configured and
WeChat gave a ticket. The card's data goes in a JSON element for
static/js/wechat-share.js (no inline script); the page's CSP allows WeChat's SDK host
on these pages only (ballots.follow.share_csp).
"""

from django import template
from django.conf import settings
from django.templatetags.static import static

from ballots.follow import jssdk

register = template.Library()

ICON = "wechat-share-icon.png"
DESCRIPTION_CHARS = 60


@register.inclusion_tag("ballots/wechat_share_card.html", takes_context=True)
def wechat_share_card(context, title: str, desc: str = "", number: str = "") -> dict:
    """`number` and `title` make the card's title; `desc` is cut to one short line."""
    request = context.get("request")
    if request is None or not jssdk.enabled():
        return {}
    signed = jssdk.share_config(request)
    if signed is None:
        return {}
    origin = settings.CASEVOTE_PUBLIC_ORIGIN
    return {
        "card": {
            "appId": signed.app_id,
            "timestamp": signed.timestamp,
            "nonceStr": signed.nonce,
            "signature": signed.signature,
            "url": signed.url,
            "jsApiList": list(jssdk.JS_API_LIST),
            "sdk": list(jssdk.SDK_URLS),
            "title": f"{number} {title}".strip(),
            "desc": one_line(desc),
            "link": origin + request.path,
            "imgUrl": origin + static(ICON),
        }
    }


def one_line(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
