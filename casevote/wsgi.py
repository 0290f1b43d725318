"""The WSGI application gunicorn serves.

gunicorn does not run Django's system checks (runserver and manage.py do), so they run
here, once per worker at start: a misconfiguration that is a check *error* (the demo
follow gate in production, a WeChat gate without its secret) stops the server instead
of serving a site that is silently weaker. Database checks are left to `migrate`.
"""

import os

from django.core.checks import run_checks
from django.core.management.base import SystemCheckError
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casevote.settings")

application = get_wsgi_application()

if errors := [problem for problem in run_checks() if problem.is_serious()]:
    raise SystemCheckError("\n".join(str(problem) for problem in errors))
