"""SMS codes: a one-time code for the user's phone (E.164), handed to the embedding app by the
``verification_code.requested`` webhook, which sends it with its own SMS provider. The steps
are those of every factor that sends codes (``factors/sent_code.py``). ``amr`` is ``sms``
(RFC 8176: confirmation by a text message to a known phone number).
"""

from __future__ import annotations

from ...contacts import mask_phone, normalise_phone
from ..sent_code import Channel, factor_of

CHANNEL = Channel(factor="sms_code", channel="sms", field="phone", normalise=normalise_phone, mask=mask_phone,
                  smtp=False, amr="sms")
FACTOR = factor_of(CHANNEL)
