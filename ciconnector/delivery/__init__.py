"""Delivery of trigger notifications to Power Automate callback URLs."""
