"""Webhook trigger lifecycle: subscriptions, polling CI, and what delivery needs."""
