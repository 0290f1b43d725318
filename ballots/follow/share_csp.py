"""The Content Security Policy of the pages that set a WeChat share card.

Their script (static/js/wechat-share.js) loads WeChat's JS-SDK from WeChat's own host
(or its documented backup), so their policy allows those two origins for scripts, and
nothing else changes: still no inline script anywhere. Every other page keeps the
site's policy (SECURE_CSP). The pages are cached whole (casevote.pagecache), so a
cached response never runs its view: the policy is chosen here by the page's URL name,
on every response, and only while share cards are on (ballots.follow.jssdk.enabled).
"""

from django.conf import settings

from ballots.follow import jssdk

# The pages whose templates use {% wechat_share_card %}.
SHARE_CARD_PAGES = frozenset({"cases:detail", "cases:campaign"})

# One object for the whole process: the CSP middleware builds each policy once per
# configuration object.
SHARE_CARD_CSP = {
    **settings.SECURE_CSP,
    "script-src": [*settings.SECURE_CSP.get("script-src", ["'self'"]), *jssdk.SDK_ORIGINS],
}


class ShareCardPolicyMiddleware:
    """Put below the CSP middleware in MIDDLEWARE, so the policy is set before it builds
    the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in SHARE_CARD_PAGES and jssdk.enabled():
            response._csp_config = SHARE_CARD_CSP
        return response
