from django import template
from django.template.defaultfilters import pluralize

register = template.Library()


@register.filter
def view_count_text(views):
    """ "Viewed N times": in Python, as publisher.page_cache puts it into every cached page it serves."""
    return f"Viewed {views} time{pluralize(views)}"
