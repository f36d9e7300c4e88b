"""The Jinja2 environment of the email templates (templates/emails/): a daily report run renders three
templates for every author, and Jinja2 compiles a template to Python code where Django's engine walks nodes."""

import functools

from django.utils import translation
from django.utils.formats import date_format
from jinja2 import Environment, StrictUndefined, select_autoescape


def environment(**options):
    options.update(
        autoescape=select_autoescape(["html"], default_for_string=False, default=False),  # .txt stays plain
        undefined=StrictUndefined,  # a misspelt name fails the tests instead of mailing a blank
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    env = Environment(**options)
    env.filters["date"] = date
    return env


def date(value, format):
    """Django's date filter ("N j, Y" is "Sept. 3, 2026" in both engines)."""
    return _date_in_language(value, format, translation.get_language())


@functools.lru_cache(maxsize=256)  # every report of a run shows the same date, five times
def _date_in_language(value, format, language):
    return date_format(value, format)
