"""Rate limits: the counting of both stores, and what the limiter counts a request against.

Every store test runs on the memory store and on Redis (under a prefix of its own); a randomized
run of both side by side checks that the Lua script follows the Python rules. Time is a plain
float that the tests move by hand.
"""
