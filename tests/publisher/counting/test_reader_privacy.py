"""What Redis's files hold about readers: with `appendonly yes` and a snapshot, someone who has them (a backup, a
replica, the disk) finds neither the day's salt nor an address, and cannot recover an address by brute force;
once the day's salt is deleted, nobody can, whatever else they hold."""

import re
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import time_machine
from django.test import Client
from django.utils import timezone

from publisher import counting
from publisher.counting import readers
from publisher.models import ReaderSalt
from quick_publisher import redis_client
from quick_publisher.redis_server import start_private_redis
from tests.factories import PostFactory

ADDRESS = "203.0.113.77"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
HEX_RUNS = re.compile(rb"[0-9a-f]{32,}")
PRINTABLE_RUNS = re.compile(rb"[\x21-\x7e]{16,}")


@pytest.fixture
def redis_with_files(settings):
    """A redis-server of its own, as the README advises for production (`appendonly yes`), storing strings
    uncompressed so that nothing in its files is hidden from a search; the view buffer and readers use it."""
    data_dir = Path(tempfile.mkdtemp(prefix="qp-test-redis-files-"))
    process, url = start_private_redis(data_dir)
    server = redis.Redis.from_url(url)
    server.config_set("rdbcompression", "no")
    server.config_set("appendfsync", "always")
    settings.REDIS_URL = url
    redis_client.client.cache_clear()
    try:
        yield data_dir, server
    finally:
        redis_client.client.cache_clear()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def new_process_memory(monkeypatch):
    monkeypatch.setattr(readers, "salts_in_memory", readers.SaltsInMemory())


def files_of(data_dir):
    """Every file the server wrote: its append-only file (base, increments, manifest) and its snapshot."""
    files = {path.relative_to(data_dir).as_posix(): path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}
    assert "dump.rdb" in files and any(name.endswith(".incr.aof") for name in files), sorted(files)
    return files


def brute_force(held, *, network, agent, salts):
    """The addresses of the /16 `network` (e.g. "203.0") whose hash with `agent`, made as the application makes
    it, under any of `salts`, is among the hashes the files hold."""
    hashes = {run.decode() for run in HEX_RUNS.findall(held)}
    return [
        address
        for address in (f"{network}.{a}.{b}" for a in range(256) for b in range(256))
        if any(readers.reader_hash(salt, address, agent) in hashes for salt in salts)
    ]


def salts_the_files_could_hold(held):
    """Anything in the files that could be a salt: every printable run of 16 characters or more, each hex run, and
    the empty salt (as if there were none)."""
    runs = PRINTABLE_RUNS.findall(held) + HEX_RUNS.findall(held)
    return {""} | {run.decode() for run in runs}


@pytest.mark.django_db
def test_redis_files_hold_no_salt_or_address_and_no_address_can_be_recovered_from_them(
    redis_with_files, new_process_memory
):
    data_dir, server = redis_with_files
    post = PostFactory()
    reader = Client(REMOTE_ADDR=ADDRESS, HTTP_USER_AGENT=AGENT)
    for _ in range(3):
        assert reader.get(f"/{post.slug}/").status_code == 200
    for n in range(1, 4):  # other readers, elsewhere
        assert Client(REMOTE_ADDR=f"198.51.100.{n}", HTTP_USER_AGENT=AGENT).get(f"/{post.slug}/").status_code == 200
    counting.flush_views()
    server.save()  # a snapshot, as `save` rules or a backup make

    held = b"".join(files_of(data_dir).values())
    salt = ReaderSalt.objects.get(day=timezone.localdate()).salt
    assert b"PFADD" in held and b"views:readers:" in held  # the files hold the readers' additions
    for secret in (salt.encode(), bytes.fromhex(salt), ADDRESS.encode(), AGENT.encode()):
        assert secret not in held

    candidates = salts_the_files_could_hold(held)
    assert brute_force(held, network="203.0", agent=AGENT, salts=candidates) == []
    # The hashes are there: the database's salt is what they lack.
    assert brute_force(held, network="203.0", agent=AGENT, salts=[salt]) == [ADDRESS]

    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):  # the day is over in every zone
        counting.flush_views()
    assert not ReaderSalt.objects.filter(salt=salt).exists()
    assert salt not in readers.salts_in_memory.salts.values()
    assert salt.encode() not in b"".join(files_of(data_dir).values())
