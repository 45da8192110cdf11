"""Switchyard project package: settings, URLs, ASGI entry, Celery app, accounts and API keys."""

from marketplace.celery import app as celery_app

__all__ = ["celery_app"]
