"""Email codes: a one-time code sent to the user's address, over SMTP when ``MFA_FLOW_SMTP_URL``
is set, else by the ``verification_code.requested`` webhook. The steps are those of every
factor that sends codes (``factors/sent_code.py``); this package says what is the email's own.

``amr`` is ``otp``: RFC 8176 has no value for email, and what the user proves is knowledge of
a one-time password received out of band (its ``sms`` is specific to SMS, and ``mca``, "multiple-
channel authentication", names a different thing: one authentication spread over channels).
"""

from __future__ import annotations

from ...contacts import canonical_email, mask_email, normalise_email
from ..sent_code import Channel, factor_of

CHANNEL = Channel(factor="email_code", channel="email", field="email", normalise=normalise_email, mask=mask_email,
                  smtp=True, amr="otp", canonical=canonical_email)
FACTOR = factor_of(CHANNEL)
