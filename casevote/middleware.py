"""When the database is unreachable, say so plainly (HTTP 503), never a traceback."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import render_to_string

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
