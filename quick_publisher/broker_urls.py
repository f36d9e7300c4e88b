"""Which kind of broker a URL names (read by the settings, the request publisher and the tests)."""

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def is_amqp(url):
    return url.split("://", 1)[0] in AMQP_SCHEMES
