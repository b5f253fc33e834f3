"""Standard Webhooks signatures (the `standardwebhooks` package): secrets, ids, headers."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret


def new_secret() -> str:
    """Return a fresh signing secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """Return a new webhook-id (one per message, reused by every attempt of it)."""
    return f"msg_{uuid.uuid4().hex}"


def new_subscription_id() -> str:
    """Return a new subscription id."""
    return f"wh_{uuid.uuid4().hex[:24]}"


def signed_headers(
    message_id: str, body: str, secrets_in_use: list[str], when: datetime | None = None
) -> dict[str, str]:
    """Return the webhook-* headers for `body`, one v1 signature per secret (rotation)."""
    from standardwebhooks.webhooks import Webhook

    timestamp = (when or datetime.now(UTC)).astimezone(UTC)
    signatures = " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body)
        for secret in secrets_in_use
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
