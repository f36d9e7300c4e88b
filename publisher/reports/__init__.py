"""View-count reports at each author's hour: their preferences and schedule, the tick that finds who is due, the
claims that keep each report to one email, what a report says, sending it, and the runs' progress.

The rest of publisher uses:
- keep_schedules(author_ids): in each transaction that publishes, unpublishes or deletes posts;
- create_preferences(author_id) and follow_account_change(user, changed_fields=...): from the signals;
- the tasks, views and admin screens in this package's modules of those names.
"""

from .preferences import create_preferences, follow_account_change, keep_schedules

__all__ = ["create_preferences", "follow_account_change", "keep_schedules"]
