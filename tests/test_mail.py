"""SMTP delivery against aiosmtpd: security modes, certificate validation, auth, passwords."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from crawler.config import SmtpConfig, parse_config
from crawler.errors import ConfigError, MailError
from crawler.store import ArticleRecord, Store
from scheduler.digest import due_count, run_digest
from scheduler.mail import Mailer, smtp_password

NOW = datetime(2025, 3, 12, 4, 0, tzinfo=UTC)


def message(subject: str = "hello") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "newswatch <alerts@example.org>"
    msg["To"] = "analyst@example.org"
    msg.set_content("Привет, 你好, hello.")
    return msg


def smtp_config(server: Any, **kw: Any) -> SmtpConfig:
    kw.setdefault("security", "none")
    return SmtpConfig(host="127.0.0.1", port=server.port, sender="newswatch <alerts@example.org>", timeout=5.0, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- passwords -------------------------------------------------------------------------------


def test_password_from_env_file_and_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("NW_TEST_PW", "from-env")
    cfg = SmtpConfig(username="alerts", password_env="NW_TEST_PW")
    assert smtp_password(cfg) == "from-env"

    secret = tmp_path / "pw"
    secret.write_text("from-file\n", encoding="utf-8")
    monkeypatch.delenv("NW_TEST_PW")
    assert smtp_password(replace(cfg, password_file=secret)) == "from-file"

    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("from-systemd", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert smtp_password(cfg) == "from-systemd"


def test_password_missing_or_unneeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("NW_TEST_PW", raising=False)
    assert smtp_password(SmtpConfig(username=None, password_env="NW_TEST_PW")) is None
    with pytest.raises(ConfigError, match=r"\$NW_TEST_PW.*LoadCredential"):
        smtp_password(SmtpConfig(username="alerts", password_env="NW_TEST_PW"))
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        smtp_password(SmtpConfig(username="alerts", password_env="NW_TEST_PW", password_file=empty))
    with pytest.raises(ConfigError, match="cannot read"):
        smtp_password(SmtpConfig(username="alerts", password_env="NW_TEST_PW", password_file=tmp_path / "nope"))


# -- plain, refusals, reconnects -------------------------------------------------------------


def test_plain_delivery_reuses_one_session(smtp: Any) -> None:
    with Mailer(smtp_config(smtp)) as mailer:
        mailer.send(message("one"), "a@example.org")
        first = mailer._conn
        mailer.send(message("two"), "b@example.org")
        assert mailer._conn is first
    assert [(m.rcpt_tos, m.message["Subject"]) for m in smtp.messages] == [
        (("a@example.org",), "one"),
        (("b@example.org",), "two"),
    ]
    assert smtp.messages[0].mail_from == "alerts@example.org"
    assert "你好" in smtp.messages[0].message.get_content()


def test_refused_recipient_leaves_the_session_usable(smtp: Any) -> None:
    smtp.refuse_rcpt = {"gone@example.org"}
    with Mailer(smtp_config(smtp)) as mailer:
        with pytest.raises(MailError, match=r"refused the recipient gone@example\.org \(550"):
            mailer.send(message(), "gone@example.org")
        mailer.send(message(), "ok@example.org")
    assert [m.rcpt_tos for m in smtp.messages] == [("ok@example.org",)]


def test_unreachable_server_is_one_clear_error() -> None:
    cfg = SmtpConfig(host="127.0.0.1", port=free_port(), security="none", timeout=5.0)
    mailer = Mailer(cfg)
    with pytest.raises(MailError, match=r"cannot reach the SMTP server 127\.0\.0\.1:\d+: .*check smtp\.host"):
        mailer.send(message(), "a@example.org")
    mailer.close()


def test_reconnects_when_the_server_restarted_between_messages(smtp: Any) -> None:
    with Mailer(smtp_config(smtp)) as mailer:
        mailer.send(message("before"), "a@example.org")
        smtp.down()
        smtp.up()
        mailer.send(message("after"), "a@example.org")
    assert [m.message["Subject"] for m in smtp.messages] == ["before", "after"]


# -- TLS -------------------------------------------------------------------------------------


def test_starttls_required_but_not_offered_sends_nothing(smtp: Any) -> None:
    with pytest.raises(MailError, match="does not offer STARTTLS.*nothing was sent"):
        Mailer(smtp_config(smtp, security="starttls")).send(message(), "a@example.org")
    assert smtp.messages == [] and smtp.data_attempts == 0


def test_starttls_required_but_not_offered_keeps_the_digest_due(smtp: Any, tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    url = "https://tass-en.example/1"
    aid = store.add_article(
        ArticleRecord(
            url=url,
            canonical_url=url,
            source="tass-en",
            title="China and Russia sign a deal",
            text="China and Russia.",
            text_from="page",
            published=None,
            language="en",
            fetched=NOW - timedelta(hours=1),
        )
    ).article_id
    store.set_matches(aid, [("st", 3.0, ["china"])])
    cfg = parse_config(
        {
            "topics": [{"name": "st", "query": "china"}],
            "digest": {"recipients": [{"email": "analyst@example.org"}]},
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "starttls",
                "timeout": "5s",
                "sender": "alerts@example.org",
            },
        },
        base=tmp_path,
    )
    out = run_digest(cfg, store, now=NOW)
    assert out.failed and "STARTTLS" in out.results[0].error
    assert smtp.data_attempts == 0
    assert due_count(cfg, store, cfg.digest.recipients[0], NOW) == 1
    store.close()


def test_starttls_with_the_test_ca(smtp_factory: Any) -> None:
    server = smtp_factory(tls="starttls")
    with Mailer(smtp_config(server, security="starttls"), context=server.client_context()) as mailer:
        mailer.send(message("over starttls"), "a@example.org")
    assert [m.message["Subject"] for m in server.messages] == ["over starttls"]


def test_starttls_default_context_trusts_ssl_cert_file(smtp_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_factory(tls="starttls")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_path))
    with Mailer(smtp_config(server, security="starttls")) as mailer:
        mailer.send(message(), "a@example.org")
    assert len(server.messages) == 1


def test_implicit_tls_with_the_test_ca(smtp_factory: Any) -> None:
    server = smtp_factory(tls="implicit")
    with Mailer(smtp_config(server, security="tls"), context=server.client_context()) as mailer:
        mailer.send(message("over tls"), "a@example.org")
    assert [m.message["Subject"] for m in server.messages] == ["over tls"]


@pytest.mark.parametrize("mode,security", [("implicit", "tls"), ("starttls", "starttls")])
def test_untrusted_certificate_is_refused(
    smtp_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, security: str
) -> None:
    server = smtp_factory(tls=mode)
    from newswatch_tests_smtpd import make_tls_files  # registered by conftest

    other_ca = make_tls_files(tmp_path / "other")[0]  # a CA that did not sign the server's certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    with pytest.raises(MailError, match="certificate of the SMTP server .* is not trusted"):
        Mailer(smtp_config(server, security=security)).send(message(), "a@example.org")
    assert server.messages == [] and server.data_attempts == 0


def test_implicit_tls_against_a_plain_server_fails_clearly(smtp: Any) -> None:
    with pytest.raises(MailError, match="TLS with the SMTP server"):
        Mailer(smtp_config(smtp, security="tls")).send(message(), "a@example.org")


# -- auth ------------------------------------------------------------------------------------


def test_auth_with_password_from_env(smtp_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_factory(auth=("alerts", "s3cret"), auth_required=True)
    monkeypatch.setenv("NW_TEST_PW", "s3cret")
    with Mailer(smtp_config(server, username="alerts", password_env="NW_TEST_PW")) as mailer:
        mailer.send(message(), "a@example.org")
    assert [m.auth_user for m in server.messages] == ["alerts"]


def test_auth_wrong_password(smtp_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_factory(auth=("alerts", "s3cret"), auth_required=True)
    monkeypatch.setenv("NW_TEST_PW", "wrong")
    with pytest.raises(MailError, match="refused the login of 'alerts'.*check smtp.username and the password"):
        Mailer(smtp_config(server, username="alerts", password_env="NW_TEST_PW")).send(message(), "a@example.org")
    assert server.messages == [] and server.failed_logins >= 1


def test_auth_over_starttls(smtp_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_factory(auth=("alerts", "s3cret"), auth_required=True, tls="starttls")
    monkeypatch.setenv("NW_TEST_PW", "s3cret")
    cfg = smtp_config(server, security="starttls", username="alerts", password_env="NW_TEST_PW")
    with Mailer(cfg, context=server.client_context()) as mailer:
        mailer.send(message(), "a@example.org")
    assert [m.auth_user for m in server.messages] == ["alerts"]


def test_required_auth_without_username_is_refused(smtp_factory: Any) -> None:
    server = smtp_factory(auth=("alerts", "s3cret"), auth_required=True)
    with pytest.raises(MailError, match="refused"):
        Mailer(smtp_config(server)).send(message(), "a@example.org")
    assert server.messages == []
