"""Signals through which one app reacts to another without importing it."""

from django.dispatch import Signal

# Sent by main when a user is verified (by their link or by an admin), with sender=the user model and user=the
# user, inside the transaction that verifies them: what a receiver writes commits or rolls back with it.
user_verified = Signal()

# Sent by main after it saved a user's fields (the account page, the admin), with user=the user and
# changed_fields=the names of the fields that changed, inside the transaction that saved them: publisher follows
# a changed time zone and a deactivation there.
account_changed = Signal()
