"""The anchor project's WSGI application, as startproject writes it (no system checks at
start, unlike casevote/wsgi.py: the anchors are what plain Django does)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.anchors.settings")

application = get_wsgi_application()
