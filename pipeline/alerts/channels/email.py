"""Email over SMTP: plain text with an HTML alternative, one message per rule and batch.

The standard library's ``smtplib`` runs in a worker thread (``aiosmtplib`` is not a
dependency). One attempt per ``send``: the SMTP relay queues and retries on its own, and
a retry of ours after an ambiguous failure (connection lost after DATA) could deliver
twice — the ``Message-ID``, derived from the idempotency key, lets mail systems and
readers recognise such a duplicate. ``DeliveryError.retryable`` follows the SMTP code:
4xx and connection trouble are temporary, 5xx are not.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from pipeline.alerts.channels import digest
from pipeline.alerts.channels.base import DeliveryError, check_batch
from pipeline.core.settings import Settings
from schemas import Alert, AlertRule, EmailChannel

_SUBJECT_PREFIX = "[newsflow] "
# The default folds a subject of 80 characters before its first word, which parsers
# then read back with a leading space; RFC 5322 allows lines of 998.
_POLICY = policy.SMTP.clone(max_line_length=998)


class EmailSender:
    kind = "email"

    def __init__(self, config: EmailChannel, *, settings: Settings) -> None:
        self._config = config
        self._settings = settings

    async def send(self, alerts: Sequence[Alert], *, rule: AlertRule, idempotency_key: str) -> None:
        check_batch(alerts, rule)
        if not self._settings.smtp.host:
            raise DeliveryError("NEWSFLOW_SMTP_HOST is not set", retryable=False, kind=self.kind)
        d = digest.build(alerts, rule=rule, max_items=self._settings.alerts.digest_max_items)
        message = email_message(
            d,
            to=list(self._config.to),
            sender=self._settings.smtp.sender,
            idempotency_key=idempotency_key,
        )
        await asyncio.to_thread(self._deliver, message)

    def _deliver(self, message: EmailMessage) -> None:
        s = self._settings
        host, port = s.smtp.host or "", s.smtp.port
        try:
            with smtplib.SMTP(host, port, timeout=s.smtp.timeout_seconds) as smtp:
                if s.smtp.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp.user and s.smtp.password is not None:
                    smtp.login(s.smtp.user, s.smtp.password.get_secret_value())
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as e:
            raise DeliveryError(
                f"all recipients refused: {_codes(e.recipients)}",
                retryable=all(400 <= code < 500 for code, _ in e.recipients.values()),
                kind=self.kind,
            ) from e
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(
                f"{host}:{port} answered {e.smtp_code}: {_text(e.smtp_error)}",
                retryable=not 500 <= e.smtp_code < 600,
                kind=self.kind,
                status=e.smtp_code,
            ) from e
        except smtplib.SMTPNotSupportedError as e:
            raise DeliveryError(f"{host}:{port}: {e}", retryable=False, kind=self.kind) from e
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryError(
                f"{host}:{port} unreachable: {type(e).__name__}: {e}",
                retryable=True,
                kind=self.kind,
            ) from e
        if refused:
            # The others have it: sending again would repeat it to them.
            raise DeliveryError(
                f"some recipients refused: {_codes(refused)}", retryable=False, kind=self.kind
            )


def email_message(
    d: digest.Digest, *, to: Sequence[str], sender: str, idempotency_key: str
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = digest.one_line(_SUBJECT_PREFIX + d.headline, limit=250)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(idempotency_key, sender=sender)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Newsflow-Rule"] = d.rule.id
    message.set_content(digest.render_text(d))
    message.add_alternative(digest.render_html(d), subtype="html")
    return message


def message_id(idempotency_key: str, *, sender: str) -> str:
    """Deterministic: the same alerts always give the same ``Message-ID``."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "newsflow.invalid"
    return f"<{idempotency_key}.alert@{domain}>"


def _codes(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt} {code} {_text(msg)}" for rcpt, (code, msg) in refused.items())


def _text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())[:200]
