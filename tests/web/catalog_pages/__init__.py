"""The public catalog pages: home, the model list (search, filters, sort, pages) and a model's
page, rendered by Django's test client over the demo catalog.

Health figures come from a store the tests fill by hand: the gateway's own memory store (handed
to the page in the ASGI scope, as GatewayApp does) or Redis (read by the page on its own). The
live test checks the whole path in a live gateway process.
"""
