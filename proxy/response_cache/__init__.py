"""The response cache, opt-in per request (as Cloudflare's and OpenRouter's).

A request asks with `X-Switchyard-Cache: true` (`X-Switchyard-Cache-TTL: <seconds>`, default
RESPONSE_CACHE_DEFAULT_TTL_S, at most RESPONSE_CACHE_MAX_TTL_S). Its key (`keys.py`) covers the
account, the models and provider preferences it asked for, and the forwarded body with sorted
keys but without `stream` and `stream_options`: a streamed and a whole request for the same thing
share one entry, so each tenant's entries are its own. An entry (`store.py`) is the canonical
whole answer; a stream is collected into one as it is relayed (`collect.py`), and a streamed hit
is replayed from it as a stream (`replay.py`). Only answers that finished are stored: never a
failed, cut or cancelled one. A hit is billed nothing (a zero hold, settled at cost 0) but is
still a generation of its own, with a new id; `X-Switchyard-Cache-Status` says HIT or MISS.

Requests without the header never touch the cache.
"""
