"""The activity page and its CSV export, through Django's test client.

The cast: alice has two keys ("prod" and "dev") and calls two models; bob is another user
whose rows and key must never show up for alice.
"""
