"""The Anthropic Messages format, both ways. Shapes are checked against the official SDKs'
own models (Anthropic's for its side, OpenAI's for the canonical side), and the inbound skin is
driven by the real `anthropic` client over a mock transport."""
