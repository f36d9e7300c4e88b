"""Writing messages out: the faster header policy changes no byte of what is sent."""

import secrets
from email.policy import compat32

from hypothesis import example, given
from hypothesis import strategies as st

from main.emails import KEEP_FITTING_HEADERS, MultipartEmail

HEADER_NAMES = st.sampled_from(["Subject", "To", "From", "List-Unsubscribe", "Message-ID", "X-A-Much-Longer-Name"])
HEADER_VALUES = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
    st.text(alphabet=" \t,;:<>=\"abcXYZ019-", max_size=120),  # folding points and quoting
    st.text(max_size=60),  # any unicode, CR and LF included: these take compat32's own path
)


@given(name=HEADER_NAMES, value=HEADER_VALUES, linesep=st.sampled_from(["\n", "\r\n"]))
@example(name="Subject", value="\x0c", linesep="\n")  # compat32 drops a lone form feed: found by hypothesis in CI
@example(name="Subject", value="a\x0bb", linesep="\r\n")
def test_a_header_is_folded_exactly_as_compat32_folds_it(name, value, linesep):
    ours, theirs = KEEP_FITTING_HEADERS.clone(linesep=linesep), compat32.clone(linesep=linesep)
    try:
        expected = theirs.fold_binary(name, value)
    except Exception as exc:  # compat32 refuses some values (an embedded header): so must we
        try:
            ours.fold_binary(name, value)
        except type(exc):
            return
        raise AssertionError(f"compat32 raised {exc!r}; the fast policy did not")
    assert ours.fold_binary(name, value) == expected


def test_a_whole_multipart_message_is_written_out_byte_for_byte_as_before():
    email = MultipartEmail(
        subject="Your posts' views on Nov. 21, 2026 — a long subject line that has to be folded somewhere",
        body="Hello Ärger,\n\nplain text " * 20,
        to=["Zoë Author <zoe@example.com>"],
        headers={
            "List-Unsubscribe": "<https://blog.example/reports/unsubscribe/MTIzNA:1vFq2H:abcdefghijklmnopqrstuvw/>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": "<view-report-1234-2026-11-21@quick-publisher>",
        },
    )
    email.attach_alternative("<p>Hello <b>Ärger</b></p>" * 20, "text/html")
    message = email.message()
    assert message.policy is KEEP_FITTING_HEADERS
    ours = message.as_bytes(linesep="\r\n")
    message.policy = compat32
    assert message.as_bytes(linesep="\r\n") == ours


def test_the_mime_boundary_is_never_in_a_part(monkeypatch):
    email = MultipartEmail(subject="Hi", body="text", to=["zoe@example.com"])
    email.attach_alternative("<p>html</p>", "text/html")
    taken = "a" * 32
    email.body = f"a part that happens to hold ==============={taken}== as a line"
    tokens = iter([taken, "b" * 32])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(tokens))
    message = email.message()
    assert message.get_boundary() == f"==============={'b' * 32}=="
    written = message.as_bytes()
    assert written.count(f"--==============={'b' * 32}==".encode()) == 3  # two parts, and the closing line
