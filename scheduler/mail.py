"""SMTP delivery: one connection per digest run, reused across recipients.

The only module that imports smtplib and ssl. ``security`` is "none" (plain), "starttls"
(STARTTLS is required: a server that does not offer it gets nothing) or "tls" (implicit TLS,
SMTPS). Certificates are validated with the default context, so a private CA is trusted
through the standard ``SSL_CERT_FILE`` variable or by passing ``context``.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from crawler.config import SmtpConfig, ascii_address
from crawler.errors import ConfigError, MailError

CREDENTIAL_NAME = "smtp-password"


def smtp_password(smtp: SmtpConfig) -> str | None:
    """The SMTP password: $password_env, else password_file, else $CREDENTIALS_DIRECTORY/smtp-password.

    None when no username is set; ConfigError when a username is set and no password is found.
    """
    if not smtp.username:
        return None
    if smtp.password_env:
        value = os.environ.get(smtp.password_env)
        if value:
            return value
    if smtp.password_file is not None:
        return _read_secret(smtp.password_file, "smtp.password_file")
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        path = Path(creds) / CREDENTIAL_NAME
        if path.exists():
            return _read_secret(path, "$CREDENTIALS_DIRECTORY")
    env_hint = f"set ${smtp.password_env}, " if smtp.password_env else "set smtp.password_env, "
    raise ConfigError(
        [
            f"smtp.username: {smtp.username!r} is set but no SMTP password was found; "
            f"{env_hint}smtp.password_file, or systemd's LoadCredential=smtp-password"
        ]
    )


def _read_secret(path: Path, where: str) -> str:
    try:
        value = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{where}: cannot read the SMTP password from {path}: {reason}"]) from None
    value = value.rstrip("\r\n")  # files written by echo end with a newline
    if not value:
        raise ConfigError([f"{where}: the SMTP password file {path} is empty"])
    return value


class Mailer:
    """Delivers messages over one SMTP session, opened on first use and reopened if it dropped."""

    def __init__(self, smtp: SmtpConfig, *, context: ssl.SSLContext | None = None) -> None:
        self.smtp = smtp
        self._context = context
        self._conn: smtplib.SMTP | None = None
        self._unreachable: MailError | None = None

    @property
    def where(self) -> str:
        return f"{self.smtp.host}:{self.smtp.port}"

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def _connect(self) -> smtplib.SMTP:
        if self._unreachable is not None:
            raise self._unreachable  # do not wait out the timeout again for every recipient
        smtp = self.smtp
        conn: smtplib.SMTP | None = None
        try:
            if smtp.security == "tls":
                conn = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=self._ssl_context())
            else:
                conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
            conn.ehlo()
            if smtp.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise MailError(
                        f"the SMTP server {self.where} does not offer STARTTLS and "
                        'smtp.security = "starttls" requires it; nothing was sent. Fix the '
                        'server, or use security = "tls" (port 465) if it speaks implicit TLS'
                    )
                conn.starttls(context=self._ssl_context())
                conn.ehlo()
            if smtp.username:
                password = smtp_password(smtp)
                if not conn.has_extn("auth"):
                    raise MailError(
                        f"the SMTP server {self.where} does not offer AUTH but smtp.username "
                        "is set; remove username or enable authentication on the server"
                    )
                conn.login(smtp.username, password or "")
        except MailError:
            _quietly_close(conn)
            raise
        except ConfigError:
            _quietly_close(conn)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(conn)
            raise MailError(
                f"the SMTP server {self.where} refused the login of {smtp.username!r} "
                f"({_reply(exc.smtp_code, exc.smtp_error)}); check smtp.username and the password"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            _quietly_close(conn)
            err = MailError(
                f"the certificate of the SMTP server {self.where} is not trusted "
                f"({exc.verify_message}); check smtp.host, or trust its CA via SSL_CERT_FILE"
            )
            self._unreachable = err
            raise err from None
        except ssl.SSLError as exc:
            _quietly_close(conn)
            hint = ' (is it a STARTTLS port? then use security = "starttls")' if smtp.security == "tls" else ""
            err = MailError(f"TLS with the SMTP server {self.where} failed: {exc.reason or exc}{hint}")
            self._unreachable = err
            raise err from None
        except smtplib.SMTPResponseException as exc:
            _quietly_close(conn)
            raise MailError(
                f"the SMTP server {self.where} refused the session ({_reply(exc.smtp_code, exc.smtp_error)})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(conn)
            err = MailError(
                f"cannot reach the SMTP server {self.where}: {_os_reason(exc)}; "
                "check smtp.host and smtp.port and that the server is running"
            )
            self._unreachable = err
            raise err from None
        return conn

    def _session(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:  # the server may have closed an idle session; only then is it safe to reconnect
                code, _ = self._conn.noop()
                if code == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            _quietly_close(self._conn)
            self._conn = None
        self._conn = self._connect()
        return self._conn

    def send(self, msg: EmailMessage, rcpt: str) -> None:
        """Delivers msg to one envelope recipient; returns only after the server's 250."""
        conn = self._session()
        sender = parseaddr(self.smtp.sender)[1] or self.smtp.sender
        try:
            refused = conn.send_message(msg, from_addr=ascii_address(sender), to_addrs=[ascii_address(rcpt)])
        except smtplib.SMTPNotSupportedError:  # an OSError too: not a lost connection
            self._reset()
            whose, fix = (
                (sender, "check smtp.sender") if not ascii_address(sender).isascii() else (rcpt, "it stays due")
            )
            raise MailError(
                f"the SMTP server {self.where} does not accept internationalized mail (SMTPUTF8), which {whose} "
                f"needs for the non-ASCII part before its '@'; use an ASCII address or a server that offers it; {fix}"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(rcpt, next(iter(exc.recipients.values()), (0, b"")))
            self._reset()
            raise MailError(
                f"the SMTP server {self.where} refused the recipient {rcpt} "
                f"({_reply(code, text)}); check digest.recipients"
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            raise MailError(
                f"the SMTP server {self.where} refused the sender {sender} "
                f"({_reply(exc.smtp_code, exc.smtp_error)}); check smtp.sender"
            ) from None
        except smtplib.SMTPDataError as exc:
            self._reset()
            kind = "temporarily refused" if 400 <= exc.smtp_code < 500 else "refused"
            raise MailError(
                f"the SMTP server {self.where} {kind} the message to {rcpt} "
                f"({_reply(exc.smtp_code, exc.smtp_error)}); it stays due"
            ) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise MailError(
                f"the connection to the SMTP server {self.where} was lost while sending to "
                f"{rcpt} ({_os_reason(exc)}); the stories stay due and are resent "
                "with the same Message-ID"
            ) from None
        except smtplib.SMTPException as exc:
            self._reset()
            raise MailError(f"sending to {rcpt} through {self.where} failed: {exc}") from None
        if refused:
            code, text = refused.get(rcpt, (0, b""))
            raise MailError(f"the SMTP server {self.where} refused the recipient {rcpt} ({_reply(code, text)})")

    def _reset(self) -> None:
        """After a refused transaction the session is still usable once RSET succeeds."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        _quietly_close(self._conn)
        self._conn = None

    def close(self) -> None:
        """Says QUIT if a session is open."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(conn)

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly_close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.close()
    except OSError:
        pass


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    return f"{code} {text}".strip() if code else text or "no reply"


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
