"""Stripe's webhook (billing/views.py, billing/purchases.py) against localstripe.

Payments are real PaymentIntents on localstripe, so the handler's re-read of Stripe's state is
real too. localstripe sends neither refunds' nor disputes' events (and has no disputes), so the
tests build those events around its real charges and sign them the way Stripe does.
"""
