"""The local inbox: the Maildir that the development SMTP server (aiosmtpd's Mailbox handler) writes."""

import mailbox
from email.utils import parsedate_to_datetime

from django.conf import settings


def _maildir():
    return mailbox.Maildir(settings.DEV_MAILDIR, factory=None, create=True)


def _sent_at(message):
    try:
        return parsedate_to_datetime(message["Date"])
    except (TypeError, ValueError):
        return None


def _sort_key(item):
    sent_at = _sent_at(item[1])
    return sent_at.timestamp() if sent_at else 0


def list_messages():
    box = _maildir()
    items = sorted(box.items(), key=_sort_key, reverse=True)
    return [
        {"key": key, "subject": m["Subject"], "to": m["To"], "from": m["From"], "date": _sent_at(m)} for key, m in items
    ]


def get_message(key):
    """The message's headers and text and HTML bodies, or None for an unknown key."""
    try:
        message = _maildir().get_message(key)
    except (KeyError, ValueError, OSError):
        return None
    parts = {"text/plain": "", "text/html": ""}
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in parts and not parts[content_type]:
            payload = part.get_payload(decode=True) or b""
            parts[content_type] = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return {
        "key": key,
        "subject": message["Subject"],
        "to": message["To"],
        "from": message["From"],
        "date": _sent_at(message),
        "headers": list(message.items()),
        "text": parts["text/plain"],
        "html": parts["text/html"],
    }
