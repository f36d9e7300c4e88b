"""The client's address, as the rate limits and the readers' count both see it, and the rate limits shared by the
site's login page and the admin's, which check the same passwords."""

import functools
import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django_ratelimit.decorators import ratelimit


def client_address(request):
    """The client's address, found as django-ratelimit's documented settings say: RATELIMIT_IP_META_KEY unset, in
    REMOTE_ADDR; a callable, or the dotted path of one, is given the request; else it names the request.META key
    that holds it. An IPv6 address is masked to its RATELIMIT_IPV6_MASK first bits (64: its network, which one
    household or host usually has whole), an IPv4 one to RATELIMIT_IPV4_MASK (32). ImproperlyConfigured when it is
    missing, ValueError when it is not an address. For a request that has one, the address of django-ratelimit's
    key "ip" (which the other rate limits use)."""
    where = getattr(settings, "RATELIMIT_IP_META_KEY", None)
    if not where:
        address = request.META.get("REMOTE_ADDR", "")
    elif callable(where):
        address = where(request)
    elif "." in where:
        address = imported(where)(request)
    elif where in request.META:
        address = request.META[where]
    else:
        raise ImproperlyConfigured(f"Could not get IP address from {where!r} (RATELIMIT_IP_META_KEY)")
    if not address:
        raise ImproperlyConfigured("The client's address is empty: see RATELIMIT_IP_META_KEY")
    return masked_address(address)


# An IPv4 address as ipaddress writes it (four decimal octets up to 255, no leading zero).
DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def masked_address(address):
    """The address's network under its family's mask, as text; ValueError when it is not an address."""
    if DOTTED_QUAD.fullmatch(address) and settings.RATELIMIT_IPV4_MASK == 32:
        return address  # as ipaddress would give it back, without parsing it in Python for every view
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        mask = settings.RATELIMIT_IPV6_MASK
    else:
        mask = settings.RATELIMIT_IPV4_MASK
    if mask == parsed.max_prefixlen:  # the whole address: no network to build
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{mask}", strict=False).network_address)


@functools.cache
def imported(dotted_path):
    return import_string(dotted_path)


def address_key(group, request):
    """client_address as a django-ratelimit key."""
    return client_address(request)


def posted_email(group, request):
    """The address a form posted (login forms call it username): one budget per address, whatever its case."""
    return request.POST.get("email", request.POST.get("username", "")).strip().lower()


def limit_login_attempts(view):
    """Per IP and per address, in one budget shared by /login/ and the admin's login page."""
    view = ratelimit(group="login:address", key=posted_email, rate=settings.LOGIN_RATE_LIMIT, method="POST")(view)
    return ratelimit(group="login:ip", key=address_key, rate=settings.LOGIN_RATE_LIMIT, method="POST")(view)
