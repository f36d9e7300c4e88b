"""The admin, a module per screen: posts (with their stats), daily views, and the reports' screens."""

from ..reports import admin as reports_admin
from . import daily_views, posts

__all__ = ["daily_views", "posts", "reports_admin"]
