"""The one shape of "the site will not do this": a message for people and an HTTP status.

Refusals carry their Chinese message to whoever asked (a resident's page, the
committee's admin, an editor's command) unchanged; the apps subclass `Refusal` for
each kind of thing they refuse, so callers can catch exactly what they handle.
"""


class Refusal(Exception):
    status_code = 400

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
