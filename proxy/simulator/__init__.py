"""Simulated upstream LLM providers speaking the OpenAI chat-completions wire format.

Runs standalone (no Django import outside the management command) so the gateway can be
exercised end to end over real HTTP, with deterministic answers and controllable faults.
"""
