"""The SMTP test server: collects mail, injects faults, goes down and up, AUTH and TLS."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest


def _message(subject: str = "newswatch: 3 new stories", to: str = "analyst@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "newswatch <alerts@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Россия и Китай: совместная лаборатория.\n中俄科技合作。\n")
    return msg


def test_collects_a_message(smtp) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        refused = client.send_message(_message(), to_addrs=["analyst@example.org", "boss@example.org"])
    assert refused == {}
    assert len(smtp.messages) == 1
    got = smtp.messages[0]
    assert got.mail_from == "alerts@example.org"
    assert got.rcpt_tos == ("analyst@example.org", "boss@example.org")
    assert got.message["Subject"] == "newswatch: 3 new stories"
    assert "中俄科技合作" in got.message.get_content()
    assert b"Subject: newswatch: 3 new stories" in got.data
    assert got.auth_user is None


def test_refuse_rcpt(smtp) -> None:  # type: ignore[no-untyped-def]
    smtp.refuse_rcpt = {"Gone@Example.org"}
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            client.send_message(_message(to="gone@example.org"))
        assert info.value.recipients["gone@example.org"][0] == 550
        # With one good recipient the message goes through and the refusal is reported.
        refused = client.send_message(_message(), to_addrs=["gone@example.org", "ok@example.org"])
    assert refused["gone@example.org"][0] == 550
    assert [m.rcpt_tos for m in smtp.messages] == [("ok@example.org",)]


def test_tempfail_data(smtp) -> None:  # type: ignore[no-untyped-def]
    smtp.tempfail_data = True
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.send_message(_message())
        assert info.value.smtp_code == 451
        smtp.tempfail_data = False
        client.send_message(_message("second try"))
    assert [m.message["Subject"] for m in smtp.messages] == ["second try"]
    assert smtp.data_attempts == 2


def test_drop_after_data(smtp) -> None:  # type: ignore[no-untyped-def]
    smtp.drop_after_data = True
    client = smtplib.SMTP("127.0.0.1", smtp.port, timeout=10)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.send_message(_message())
    client.close()
    assert smtp.data_attempts == 1 and smtp.messages == []


def test_down_and_up_keep_the_port(smtp) -> None:  # type: ignore[no-untyped-def]
    port = smtp.port
    smtp.down()
    assert not smtp.is_up
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)
    smtp.up()
    assert smtp.port == port
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(_message())
    assert len(smtp.messages) == 1


def test_auth_plain_and_login(smtp_factory) -> None:  # type: ignore[no-untyped-def]
    server = smtp_factory(auth=("alerts", "s3cret"), auth_required=True)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.send_message(_message())  # not logged in yet
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("alerts", "wrong")
    for mechanism in ("PLAIN", "LOGIN"):
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
            client.ehlo()
            client.user, client.password = "alerts", "s3cret"
            client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
            client.send_message(_message(mechanism))
    assert [(m.message["Subject"], m.auth_user) for m in server.messages] == [("PLAIN", "alerts"), ("LOGIN", "alerts")]
    assert server.failed_logins >= 1  # smtplib retries the wrong password with each mechanism


def test_starttls_with_trusted_ca(smtp_factory) -> None:  # type: ignore[no-untyped-def]
    server = smtp_factory(tls="starttls", auth=("alerts", "s3cret"))
    assert server.ca_path is not None and server.ca_path.is_file()
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.starttls(context=server.client_context())
        client.login("alerts", "s3cret")
        client.send_message(_message())
    assert len(server.messages) == 1
    # An unknown CA is refused by a verifying client.
    import ssl

    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())


def test_implicit_tls(smtp_factory) -> None:  # type: ignore[no-untyped-def]
    server = smtp_factory(tls="implicit")
    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=10, context=server.client_context()) as client:
        client.send_message(_message())
    assert len(server.messages) == 1
