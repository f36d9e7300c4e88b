import math

from django import template
from django.utils.html import strip_tags

register = template.Library()

WORDS_PER_MINUTE = 230  # an adult's silent reading of non-fiction


@register.filter
def reading_time(html):
    """ "4 min read", from the words of a post's rendered HTML (a minute at least)."""
    minutes = max(1, math.ceil(len(strip_tags(html).split()) / WORDS_PER_MINUTE))
    return f"{minutes} min read"
