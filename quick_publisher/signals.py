"""Signals through which one app reacts to another without importing it."""

from django.dispatch import Signal

# Sent by main when a user is verified (by their link or by an admin), with sender=the user model and user=the
# user, inside the transaction that verifies them: what a receiver writes commits or rolls back with it.
user_verified = Signal()
