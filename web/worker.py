"""Entry point for Celery workers and beat: `celery -A web.worker worker` (or `gxpflow worker`)."""

from web import create_app

app = create_app()
celery = app.extensions["celery"]
