"""A real SMTP server for tests (aiosmtpd on 127.0.0.1), collecting mail and injecting faults.

Faults are plain attributes a test flips at any time:

- ``refuse_rcpt``: addresses answered ``550`` at RCPT TO (case-insensitive).
- ``tempfail_data``: answer ``451`` after the message data was received.
- ``drop_after_data``: receive the message data, then close the connection without a reply.
- ``on_data``: a function called when a message's data has arrived, before the server accepts it
  (a test fills the disk there: the mail goes out while the sender's disk fills up).
- ``down()`` / ``up()``: stop listening / listen again on the same port.

``auth=(user, password)`` offers AUTH PLAIN and LOGIN (allowed without TLS, as in tests);
``auth_required=True`` refuses mail from unauthenticated sessions. ``tls="starttls"`` offers
STARTTLS, ``tls="implicit"`` speaks TLS from the first byte (SMTPS); both use a throwaway CA and
a certificate for 127.0.0.1/localhost written to ``cert_dir``; clients trust :attr:`ca_path`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ReceivedMessage", "SMTPTestServer", "make_tls_files"]

TLSMode = Literal["none", "starttls", "implicit"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: the envelope, the raw bytes, and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage
    auth_user: str | None


class _PortReportingController(Controller):
    """A Controller that can bind port 0 and learns the port the OS chose."""

    def _create_server(self):  # type: ignore[no-untyped-def]
        coro = super()._create_server()

        async def bind() -> asyncio.AbstractServer:
            server = await coro
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bind()


class SMTPTestServer:
    """aiosmtpd on 127.0.0.1 that records what it accepts; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: tuple[str, str] | None = None,
        auth_required: bool = False,
        tls: TLSMode = "none",
        cert_dir: Path | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.host = host
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (internationalized addresses), as aiosmtpd does by default
        self.port = port
        self.auth = auth
        self.auth_required = auth_required
        self.tls = tls
        self.messages: list[ReceivedMessage] = []
        self.refuse_rcpt: set[str] = set()
        self.tempfail_data = False
        self.on_data: Callable[[], None] | None = None  # called as a message arrives, before its 250
        self.drop_after_data = False
        self.failed_logins = 0
        self.data_attempts = 0  # DATA transfers received, whatever the answer
        self.ca_path: Path | None = None
        self.cert_path: Path | None = None
        self.key_path: Path | None = None
        self._lock = threading.Lock()
        self._controller: _PortReportingController | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server_ctx: ssl.SSLContext | None = None
        if tls != "none":
            if cert_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="newswatch-smtp-tls-")
                cert_dir = Path(self._tmp.name)
            self.ca_path, self.cert_path, self.key_path = make_tls_files(cert_dir)
            self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_ctx.load_cert_chain(self.cert_path, self.key_path)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SMTPTestServer:
        """Listen (on the same port as before, after the first start)."""
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "newswatch-test-smtp",
            "ready_timeout": 10,
            "enable_SMTPUTF8": self.smtputf8,
        }
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if self.tls == "starttls":
            kwargs["tls_context"] = self._server_ctx
        elif self.tls == "implicit":
            kwargs["ssl_context"] = self._server_ctx
        controller = _PortReportingController(self._Handler(self), **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; open sessions are cut."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def close(self) -> None:
        """Stop and remove generated TLS files."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def down(self) -> None:
        """Stop listening, keeping the port for :meth:`up`."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port."""
        self.start()

    @property
    def is_up(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for clients that trusts this server's certificate."""
        if self.ca_path is None:
            raise RuntimeError("this SMTP test server runs without TLS")
        return ssl.create_default_context(cafile=str(self.ca_path))

    def clear(self) -> None:
        """Forget received messages and counters."""
        with self._lock:
            self.messages.clear()
            self.failed_logins = 0
            self.data_attempts = 0

    # -- aiosmtpd hooks --------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if (user, password) == self.auth:
                return AuthResult(success=True, auth_data=user)
        with self._lock:
            self.failed_logins += 1
        return AuthResult(success=False, handled=False)

    class _Handler:
        def __init__(self, owner: SMTPTestServer) -> None:
            self.owner = owner

        async def handle_MAIL(
            self,
            server: SMTP,
            session: Session,
            envelope: Envelope,  # noqa: N802
            address: str,
            mail_options: list[str],
        ) -> str:
            # Checked here rather than by aiosmtpd's auth_required, which warns without TLS.
            if self.owner.auth_required and not session.authenticated:
                return "530 5.7.0 Authentication required"
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            return "250 OK"

        async def handle_RCPT(
            self,
            server: SMTP,
            session: Session,
            envelope: Envelope,  # noqa: N802
            address: str,
            rcpt_options: list[str],
        ) -> str:
            refused = {a.lower() for a in self.owner.refuse_rcpt}
            if address.lower() in refused:
                return f"550 5.1.1 <{address}>: recipient address rejected"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
            owner = self.owner
            with owner._lock:
                owner.data_attempts += 1
            if owner.drop_after_data:
                assert server.transport is not None
                server.transport.abort()
                # aiosmtpd writes this reply to a closed transport, where it goes nowhere.
                return "421 4.3.0 connection dropped"
            if owner.tempfail_data:
                return "451 4.3.0 temporary failure, try again later"
            if owner.on_data is not None:
                owner.on_data()
            raw = envelope.original_content or b""
            if not raw and isinstance(envelope.content, bytes):
                raw = envelope.content
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            auth_user = session.auth_data if isinstance(session.auth_data, str) else None
            with owner._lock:
                owner.messages.append(
                    ReceivedMessage(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw, parsed, auth_user)
                )  # type: ignore[arg-type]
            return "250 2.0.0 OK: queued"


def make_tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a server certificate for 127.0.0.1/localhost; return (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newswatch test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path
