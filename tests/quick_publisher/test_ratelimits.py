"""The client's address, one function for the rate limits and the readers: RATELIMIT_IP_META_KEY in each of the
forms django-ratelimit documents, IPv6 masked to its /64, and the very address of django-ratelimit's key "ip"."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django_ratelimit.core import get_usage
from hypothesis import example, given
from hypothesis import strategies as st

from quick_publisher.ratelimits import address_key, client_address, masked_address


def address_from_x_real_ip(request):
    """A RATELIMIT_IP_META_KEY function: the address the proxy put in X-Real-IP."""
    return request.META["HTTP_X_REAL_IP"]


def request_from(client, *, proxy="10.0.0.2"):
    return RequestFactory().get("/", REMOTE_ADDR=proxy, HTTP_X_REAL_IP=client)


WHERE = pytest.mark.parametrize(
    "where",
    ["HTTP_X_REAL_IP", address_from_x_real_ip, "tests.quick_publisher.test_ratelimits.address_from_x_real_ip"],
    ids=["META key", "callable", "dotted path"],
)


@pytest.mark.parametrize("where", [None, "", "REMOTE_ADDR"])
def test_by_default_the_address_is_remote_addr(settings, where):
    settings.RATELIMIT_IP_META_KEY = where
    assert client_address(request_from("192.0.2.7", proxy="198.51.100.4")) == "198.51.100.4"


@WHERE
def test_rate_limit_ip_meta_key_in_each_of_its_forms(settings, where):
    settings.RATELIMIT_IP_META_KEY = where
    assert client_address(request_from("192.0.2.7")) == "192.0.2.7"


@WHERE
def test_an_ipv6_client_is_its_64(settings, where):
    settings.RATELIMIT_IP_META_KEY = where
    assert client_address(request_from("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::"
    assert client_address(request_from("2001:db8:1:2:ffff:ffff:ffff:ffff")) == "2001:db8:1:2::"
    assert client_address(request_from("2001:db8:1:3::1")) == "2001:db8:1:3::"


def test_the_masks_are_django_ratelimits_settings(settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    settings.RATELIMIT_IPV6_MASK = 48
    settings.RATELIMIT_IPV4_MASK = 24
    assert client_address(request_from("2001:db8:1:2:3:4:5:6")) == "2001:db8:1::"
    assert client_address(request_from("192.0.2.7")) == "192.0.2.0"


def as_ipaddress_writes_it(address):
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ValueError


def masked(address):
    try:
        return masked_address(address)
    except ValueError:
        return ValueError


@given(
    address=st.ip_addresses(v=4).map(str)
    | st.text(alphabet="0123456789.", max_size=16)
    | st.from_regex(r"[0-9٠-٩]{1,3}(\.[0-9٠-٩]{1,3}){3}", fullmatch=True)
    | st.text(max_size=20)
)
@example(address="192.0.2.07")  # a leading zero: refused
@example(address="192.00.2.7")
@example(address="01.2.3.4")
@example(address="192.0.2.256")
@example(address="192.0.2.7\n")
@example(address="١٩٢.0.2.7")  # other scripts' digits: refused
@example(address="0.0.0.0")
@example(address="255.255.255.255")
def test_an_ipv4_address_under_its_whole_mask_is_read_as_ipaddress_reads_it(address):
    assert masked(address) == as_ipaddress_writes_it(address)


def test_a_missing_address_is_a_configuration_error(settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_FORWARDED_FOR"
    with pytest.raises(ImproperlyConfigured):
        client_address(request_from("192.0.2.7"))


@WHERE
@pytest.mark.parametrize("client", ["192.0.2.7", "2001:db8:1:2:3:4:5:6"])
def test_it_is_the_address_of_django_ratelimits_key_ip(settings, clock_within_one_rate_window, where, client):
    """The other rate limits use key "ip": a count kept under either key is the same count, so both keys name the
    same address (django-ratelimit keeps one count per group, rate and address)."""
    settings.RATELIMIT_IP_META_KEY = where
    request = request_from(client)
    group = f"same-address-{client}"
    assert get_usage(request, group=group, key="ip", rate="100/m", increment=True)["count"] == 1
    assert get_usage(request, group=group, key=address_key, rate="100/m", increment=True)["count"] == 2
    assert get_usage(request, group=group, key="ip", rate="100/m", increment=True)["count"] == 3
    other = request_from("198.51.100.9" if "." in client else "2001:db8:1:3::1")
    assert get_usage(other, group=group, key=address_key, rate="100/m", increment=True)["count"] == 1
