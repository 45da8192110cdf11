"""Endpoint health: the circuit breaker, rolling statistics and probing, on both stores.

Every behaviour test runs on the memory store and on Redis (under a prefix of its own); a
randomized run of both side by side checks that the Lua scripts follow the Python rules.
Time is a plain float that the tests move by hand.
"""
