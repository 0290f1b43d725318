"""The site's own middleware: a plain 503 when the database is unreachable (never a
traceback), and Django's Content Security Policy with each policy built once."""

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.middleware import csp
from django.template.loader import render_to_string
from django.utils.csp import CSP, build_policy

logger = logging.getLogger(__name__)

UNAVAILABLE = (OperationalError, InterfaceError)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, UNAVAILABLE) or not _is_connection_problem(exception):
            return None
        logger.error("database unavailable: %s", exception)
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response


def _is_connection_problem(exception: DatabaseError) -> bool:
    """OperationalError also means "database is locked" etc.; only connection failures
    are a 503. psycopg2 reports them as OperationalError without a SQLSTATE."""
    if isinstance(exception, InterfaceError):
        return True
    cause = exception.__cause__
    code = getattr(cause, "pgcode", None)
    return code is None or code.startswith("08") or code.startswith("57P")


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django's CSP middleware, building each policy once instead of on every response.

    The site's policies carry no nonce (no inline script or style anywhere), so a
    configuration — `SECURE_CSP`, `SECURE_CSP_REPORT_ONLY`, or a view's own through
    Django's `csp_override` — always renders the same header. Each is built the first
    time and kept by the configuration object's identity; one that asks for a nonce is
    built per response, as Django does."""

    def __init__(self, get_response):
        super().__init__(get_response)
        self._built: dict[int, tuple[object, str]] = {}

    def process_response(self, request, response):
        sentinel = object()
        if (enforce := getattr(response, "_csp_config", sentinel)) is sentinel:
            enforce = settings.SECURE_CSP
        if (report_only := getattr(response, "_csp_ro_config", sentinel)) is sentinel:
            report_only = settings.SECURE_CSP_REPORT_ONLY
        for header, config in [
            (CSP.HEADER_ENFORCE, enforce),
            (CSP.HEADER_REPORT_ONLY, report_only),
        ]:
            # As Django's: a header the view set stays; an empty configuration adds none.
            if config and header not in response:
                response.headers[str(header)] = self._policy(config, request)
        return response

    def _policy(self, config, request) -> str:
        kept = self._built.get(id(config))
        if kept is None or kept[0] is not config:
            # None: the policy asks for a nonce, so it differs on every response.
            kept = (config, None if _asks_for_nonce(config) else build_policy(config))
            self._built[id(config)] = kept
        if kept[1] is None:
            return build_policy(config, csp.get_nonce(request))
        return kept[1]


def _asks_for_nonce(config) -> bool:
    return any(
        CSP.NONCE == values or (isinstance(values, list | tuple | set) and CSP.NONCE in values)
        for values in config.values()
    )
