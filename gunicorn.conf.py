"""gunicorn settings for casevote (production).

Sync workers: the work per request is short and mostly database-bound. On this
2-core machine a bare Django view under 2 sync workers served ~4,000 req/s and more
workers or threads mostly added tail latency (see the benchmark in bench/ when it
lands); override with GUNICORN_WORKERS / GUNICORN_THREADS after measuring.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Restart workers now and then so that a slow leak cannot grow without bound — but
# rarely: a restart drops the worker's page and tally caches (the benchmark saw a
# restart every ~15 s at 20,000).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "500000"))
max_requests_jitter = 50000
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("CASEVOTE_TRUSTED_PROXIES", "127.0.0.1")
wsgi_app = "casevote.wsgi:application"
# gunicorn 27 opens a control socket in $HOME shared by every instance of the user;
# the site does not use it, and several instances (tests, benchmark) must not collide.
control_socket_disable = True
