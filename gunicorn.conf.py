"""gunicorn's settings for `make serve` and deploy/service-app.service (gunicorn also reads this file by
itself when started from this folder).

Workers: WEB_CONCURRENCY, else 2 × cores + 1. More than one needs PostgreSQL: on SQLite the server
refuses to start (so does the app, which reads the count from WEB_CONCURRENCY). In production
(APP_ENV=production) it refuses to start without SECRET_KEY.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")  # nginx in front (deploy/nginx.conf)
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1) + 1)
# An import preview of a large roster takes a few seconds (large exports run in the background).
timeout = 120
graceful_timeout = 30
# A fresh worker now and then returns what a large import left on the heap; not too often, since a
# restart costs ≈2 s of CPU and cold caches (at 1,000, every worker restarted within a load test).
max_requests = 20000
max_requests_jitter = 2000
accesslog = "-"


def on_starting(server):
    """Refuse a deployment the app cannot serve, before any worker starts."""
    # The workers read their count from here (Config.WEB_CONCURRENCY), so set it before the app is imported.
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)
    from config import normalise_database_url
    from service_app.deployment import ConfigurationError, check_secret_key, check_workers

    try:
        check_secret_key({"APP_ENV": os.environ.get("APP_ENV", ""), "SECRET_KEY": os.environ.get("SECRET_KEY")})
        check_workers(normalise_database_url(os.environ.get("DATABASE_URL")), server.cfg.workers)
    except ConfigurationError as error:
        raise RuntimeError(str(error)) from None  # gunicorn prints "Error: …" and exits 1


def post_worker_init(worker):
    """Compile the templates before the worker takes its first request (service_app.deployment.warm_up)."""
    from service_app.deployment import warm_up

    warm_up(worker.wsgi)
