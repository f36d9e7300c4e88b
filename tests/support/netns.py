"""A worker host cut off the network: network namespaces (`ip netns`, a veth pair each) joined to this host through
forwarders, whose link a test takes down; `ip` runs iproute2, unused_subnet finds addresses for a namespace."""

import subprocess
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from tests.support.brokers import broker_is_amqp
from tests.support.processes import database_url
from tests.support.project import celery_app
from tests.support.proxy import TcpProxy


def ip(*args):
    """Run `ip`; its error output on failure."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise OSError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class NetworkNamespace:
    """A host of its own for a worker: a network namespace joined to this one by a veth pair. A worker started with
    exec_prefix reaches this host's services (which listen on 127.0.0.1) only through forwarders on this side of the
    link (worker_environment()), so cut() takes everything away from it at once, as a pulled cable would: no
    connection is closed, packets are just not delivered until restore().
    """

    def __init__(self, name, subnet):
        self.name = name
        self.link = f"{name}h"  # this side of the veth pair
        self.gateway = f"10.231.{subnet}.1"  # this side's address, where the forwarders listen
        self.address = f"10.231.{subnet}.2"
        self.exec_prefix = ("ip", "netns", "exec", name)
        self.proxies = {}

    def create(self):
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.link, "type", "veth", "peer", "name", f"{self.name}n", "netns", self.name)
            ip("addr", "add", f"{self.gateway}/30", "dev", self.link)
            ip("link", "set", self.link, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", f"{self.name}n")
            ip("-n", self.name, "link", "set", f"{self.name}n", "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except OSError:
            self.delete()
            raise

    def delete(self):
        for proxy in self.proxies.values():
            proxy.close()
        for args in (("netns", "delete", self.name), ("link", "delete", self.link)):  # the pair goes with either
            try:
                ip(*args)
            except OSError:
                pass

    def cut(self):
        ip("link", "set", self.link, "down")

    def restore(self):
        ip("link", "set", self.link, "up")

    def forward(self, host, port):
        """The port on the gateway where the namespace reaches host:port."""
        if (host, port) not in self.proxies:
            self.proxies[host, port] = TcpProxy(host, port, listen_host=self.gateway)
        return self.proxies[host, port].port

    def url_through(self, url, default_port):
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        port = self.forward(parts.hostname, parts.port or default_port)
        netloc = f"{credentials}@{self.gateway}:{port}" if credentials else f"{self.gateway}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def worker_environment(self):
        """A worker's database, broker, Redis and SMTP server, reached over the link."""
        db = connection.settings_dict
        return {
            "DATABASE_URL": database_url(
                host=self.gateway, port=self.forward(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
            ),
            "REDIS_URL": self.url_through(settings.REDIS_URL, 6379),
            "CELERY_BROKER_URL": self.url_through(celery_app.conf.broker_url, 5672 if broker_is_amqp() else 6379),
            "EMAIL_HOST": self.gateway,
            "EMAIL_PORT": self.forward(settings.EMAIL_HOST, settings.EMAIL_PORT),
        }


def unused_subnet():
    """A third octet of 10.231.x.0/24 that no interface of this host uses yet."""
    addresses = ip("-4", "-o", "addr", "show")
    return next(n for n in range(1, 255) if f" 10.231.{n}." not in addresses)
