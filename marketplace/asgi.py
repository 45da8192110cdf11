"""ASGI entry: the gateway's own fast routes in front of Django.

`/api/v1/chat/completions` and `/api/v1/credits` are served by a slim ASGI app (no Django
middleware, no per-request thread hops); everything else goes to Django's full stack.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django_application = get_asgi_application()

from proxy.app import GatewayApp  # noqa: E402  (needs Django set up first)

application = GatewayApp(fallback=django_application)
