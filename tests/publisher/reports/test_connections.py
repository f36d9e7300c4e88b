"""A chunk of reports sent over several SMTP connections at once (REPORT_SMTP_CONNECTIONS): the connections really
overlap, the senders of one execution share its claims and send each report once, and a failure on one connection
neither loses nor repeats what the others sent."""

import asyncio
import itertools
import threading
import time
from collections import Counter

import pytest
from django.template import TemplateSyntaxError

from main.models import User
from publisher.models import ReportDelivery
from publisher.reports import sending
from publisher.reports.claims import Claim
from publisher.reports.sending import send_reports_to_authors
from tests.publisher.reports.test_delivery import (
    author_with_posts,
    authors_with_three_posts,
    chunk_results,
    report_period,
    reports_among,
    run_and_wait,
)

SENT = ReportDelivery.Status.SENT


class OverlapWatch:
    """Wraps an SMTP handler's DATA: each message takes `seconds`, optionally refused by its number (from 1); the
    most messages the server was receiving at the same moment, over different sessions, is `most_at_once`, and the
    sessions that sent messages are known by their client's address and port (`peers`)."""

    def __init__(self, smtp_server, *, seconds, refuse=()):
        self.now, self.most_at_once, self.peers, self.lock = 0, 0, set(), threading.Lock()
        handler, original, numbers = smtp_server.handler, smtp_server.handler.handle_DATA, itertools.count(1)

        async def handle_DATA(server, session, envelope):
            number = next(numbers)
            with self.lock:
                self.peers.add(session.peer)
                self.now += 1
                self.most_at_once = max(self.most_at_once, self.now)
            try:
                await asyncio.sleep(seconds)
                if number in refuse:
                    return "451 4.3.0 Try again later"
                return await original(server, session, envelope)
            finally:
                with self.lock:
                    self.now -= 1

        handler.handle_DATA = handle_DATA


@pytest.mark.django_db(transaction=True)
def test_a_chunk_is_sent_over_several_smtp_connections_at_once(celery_worker, smtp_server, settings):
    settings.REPORT_SMTP_CONNECTIONS = 4  # the test worker runs one task at a time: all four are the chunk's
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(8)]
    watch = OverlapWatch(smtp_server, seconds=0.2)

    summary = run_and_wait()

    assert summary["chunks"] == 1
    assert watch.most_at_once > 1, "the chunk's reports went out one connection at a time"
    assert sorted(m["To"] for m in reports_among(smtp_server.settle())) == sorted(a.email for a in authors)
    assert ReportDelivery.objects.filter(status=SENT).count() == 8


@pytest.mark.django_db(transaction=True)
def test_a_refusal_on_one_connection_loses_and_repeats_nothing_the_others_sent(celery_worker, smtp_server, settings):
    settings.REPORT_SMTP_CONNECTIONS = 4
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(8)]
    # The second message is refused while the others are on their way over the other connections.
    watch = OverlapWatch(smtp_server, seconds=0.2, refuse={2})

    run_and_wait()

    received = reports_among(smtp_server.settle())
    assert watch.most_at_once > 1
    assert sorted(Counter(m["To"] for m in received).items()) == sorted((a.email, 1) for a in authors)
    assert ReportDelivery.objects.filter(status=SENT).count() == 8
    # The first attempt recorded what its other connections had sent (more than one report); the retry sent the rest.
    [result] = chunk_results()
    assert 0 < len(result["sent_to"]) <= 8 - 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_of_one_execution_send_each_report_once_across_a_renewal_of_their_claims(smtp_server, settings):
    """Two connections of one execution share its claims: each report is handed to one sender, the claims are renewed
    (less than half a lease left) while the other sender marks what it sent, and nothing is sent twice."""
    settings.REPORT_CLAIM_LEASE = 1  # renewed every half second, in the middle of the sends
    author_ids = authors_with_three_posts(16)
    emails = dict(User.objects.filter(pk__in=author_ids).values_list("pk", "email"))
    watch = OverlapWatch(smtp_server, seconds=0.1)
    renewals = []
    renew = Claim.renew

    def counted_renew(claim, ids):
        renewals.append(threading.current_thread().name)
        return renew(claim, ids)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Claim, "renew", counted_renew)
        result = send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id="t", connections=2)

    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails.values())  # each report once
    assert watch.most_at_once == 2
    assert len(renewals) >= 2  # at the start, and again half a lease later
    assert sorted(result.sent_to) == sorted(author_ids)
    assert ReportDelivery.objects.filter(status=SENT).count() == 16


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reports_are_built_while_every_connection_waits_for_the_server_and_no_more_connections_open(
    smtp_server, monkeypatch
):
    """While both connections wait for the server's reply, the execution builds the next reports for them, yet the
    server never sees more than the two connections, and each report goes once."""
    author_ids = authors_with_three_posts(8)
    emails = dict(User.objects.filter(pk__in=author_ids).values_list("pk", "email"))
    watch = OverlapWatch(smtp_server, seconds=0.3)
    build, waiting_while_built = sending.view_count_report_email, []

    def slow_build(report):
        time.sleep(0.05)  # a report that takes a while to build, as a long one does (yet less than a send)
        waiting_while_built.append(watch.now)
        time.sleep(0.05)
        return build(report)

    monkeypatch.setattr(sending, "view_count_report_email", slow_build)
    result = send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id="t", connections=2)

    assert max(waiting_while_built) == 2, "no report was built while both connections waited for the server"
    assert watch.most_at_once == 2
    assert len(watch.peers) == 2  # each connection kept open from one report to the next
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails.values())
    assert sorted(result.sent_to) == sorted(author_ids)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_report_that_cannot_be_built_stops_every_sender_and_the_retry_sends_each_other_report_once(
    smtp_server, monkeypatch
):
    """The fourth report fails to build while both connections are sending the first two: neither sender takes
    another email, what they sent is marked sent, the rest is let go at once, and the retry sends it, each once."""
    author_ids = authors_with_three_posts(8)
    emails = dict(User.objects.filter(pk__in=author_ids).values_list("pk", "email"))
    OverlapWatch(smtp_server, seconds=0.3)
    build, built = sending.view_count_report_email, []

    def fourth_fails(report):
        built.append(report.author.pk)
        if len(built) == 4:
            raise TemplateSyntaxError("a template that no longer renders")
        return build(report)

    monkeypatch.setattr(sending, "view_count_report_email", fourth_fails)
    with pytest.raises(TemplateSyntaxError):
        send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id="t", connections=2)

    sent = set(ReportDelivery.objects.filter(status=SENT).values_list("author_id", flat=True))
    assert sent <= set(built[:2]), "a sender took another email after the build failed"
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails[pk] for pk in sent)
    assert not ReportDelivery.objects.exclude(status=SENT).exclude(claimed_at=None).exists()  # let go for the retry

    monkeypatch.setattr(sending, "view_count_report_email", build)
    result = send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id="t", connections=2)
    assert sorted(result.sent_to) == sorted(set(author_ids) - sent)
    assert Counter(m["To"] for m in smtp_server.messages) == Counter(emails.values())  # each author once
    assert ReportDelivery.objects.filter(status=SENT).count() == 8
