"""Simulated upstream LLM providers speaking OpenAI's, Anthropic's and Google's wire formats.

Runs standalone (no Django import outside the management command) so the gateway can be
exercised end to end over real HTTP, with deterministic answers and controllable faults.

One aiohttp application serves every simulated provider (nimbus, lumen, quanta, ember,
atlas) under ``/{provider}/...``:

- ``POST v1/chat/completions``: OpenAI chat completions, JSON or SSE;
- ``POST v1/messages``: the Anthropic Messages API, JSON or its SSE event sequence;
- ``POST v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``:
  the Gemini API;
- ``POST v1/embeddings``: OpenAI embeddings (deterministic unit vectors);
- ``GET v1/models``: the models the provider serves in the demo catalog, priced per token,
  plus the simulated embedding models;

plus ``/healthz``, ``/_stats`` and the control API.

Every chat request, whatever its format, is converted to one canonical (OpenAI-shaped) view
and answered by the same pure planner: the same conversation gets the same reply, tool call
and token counts in all three formats (rules in ``responder``, ``tool_replies`` and the
request parsers). It is parsed and counted in ``/_stats``; then the first of these that
applies decides whether it fails, and how (in the format's own error shapes and SSE framing):

1. a fault set on the provider through the control API (loopback peers only, see
   ``faults.py`` for the fault names and their options):
   ``PUT /_control/providers/{slug}`` with ``{"fault": NAME, "count": n, ...options}`` sets
   it (for every later request, or the next ``n``), ``DELETE /_control/providers/{slug}``
   clears it, ``DELETE /_control/providers`` clears them all, ``GET /_control/providers``
   lists them. Such a fault replaces the message's fault directives and the random failures;
2. ``[sim:status=N]``, ``[sim:malformed]``, ``[sim:hang]`` and ``[sim:cut=N]`` directives in
   the last user message (``[sim:slow=MS]`` and ``[sim:delay=MS]`` only change the timing);
   a forced 401 quotes the key it was sent, as some real providers' errors do;
3. random failures, at each profile's error rate times ``fault_scale``.

Embedding requests go through the same three steps (their directives are read from the
inputs).

Modules, pure first: ``profiles`` (the providers), ``prompt`` (the canonical request and
shared field checks), ``tool_replies`` (tool calls, tool results, JSON mode, schema
instances), ``responder`` (tokens, reply text, directives, ``plan_reply``), ``faults`` (fault
names, options and the board), ``embeddings`` (vectors, parsing, body),
``model_list`` (the priced list),
``wire`` (the ``WireFormat`` Protocols and event streams), ``openai_request`` /
``openai_wire``, ``anthropic_request`` and ``gemini_request`` (each format's parsing and
answers); then ``app_state`` (config, stats, app keys), ``responses`` (JSON and error
responses), ``answers`` (planning and sending the usual answer), ``fault_serving`` (sending a
fault instead), ``serving`` (the shared pipeline), ``chat`` (the OpenAI handlers),
``anthropic_api`` and ``gemini_api`` (their formats and handlers), ``control`` (the control
API), ``app`` (``make_app`` and routes) and ``server`` (the entry points).
"""
