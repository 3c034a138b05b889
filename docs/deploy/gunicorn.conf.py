"""gunicorn settings for rm-sms-dashboard behind nginx (README › Deploying to production).

Copy to /etc/rm-sms-dashboard/gunicorn.conf.py; the systemd unit beside it starts gunicorn
with it.
"""

# The app, without Alembic in the web workers (the `flask db` commands still have it).
wsgi_app = "dashboard:create_app(migrations=False)"

# Only nginx on this host talks to gunicorn.
bind = "127.0.0.1:8000"

# Build the app once, before the workers start: a setting that cannot be understood stops
# gunicorn (and systemd sees the unit fail) instead of every worker failing in turn.
preload_app = True

# Sync workers: each holds one request at a time, and a send waits for RevenueMonster for at
# most DASHBOARD_RM_TIMEOUT_SECONDS (25 s at most), below the worker timeout.
worker_class = "sync"
workers = 3
timeout = 30
graceful_timeout = 30

# The app itself takes the client's address, scheme and host from nginx's X-Forwarded-*
# headers (DASHBOARD_PROXY_COUNT=1); gunicorn must not trust them on its own.
forwarded_allow_ips = ""

# Logs to standard output and error: the journal keeps them.
accesslog = "-"
errorlog = "-"

# gunicorn's control socket (gunicorn 24 and later) is not needed by this service.
control_socket_disable = True


def child_exit(server, worker):
    """A worker ended (restarted, killed, timed out): with /metrics counted across workers
    (PROMETHEUS_MULTIPROC_DIR, which the systemd unit sets), drop its live gauges. Its
    counters stay: what it counted happened, and the totals must not go back."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
