"""SMS codes: a one-time code for the user's phone (E.164), handed to the embedding app by the
``verification_code.requested`` webhook, which sends it with its own SMS provider. The steps
are those of every factor that sends codes (``factors/sent_code.py``). ``amr`` is ``sms``
(RFC 8176: confirmation by a text message to a known phone number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...contacts import mask_phone, normalise_phone, phone_type
from ..sent_code import Channel, factor_of

if TYPE_CHECKING:
    from ...settings import Settings


def number_type_refusal(e164: str, settings: Settings) -> str | None:
    """Premium-rate, shared-cost, toll-free... numbers get no codes unless
    MFA_FLOW_SMS_NUMBER_TYPES lists their type (``phonenumbers`` tells it)."""
    kind = phone_type(e164)
    if kind in settings.sms_number_types:
        return None
    return (f"a {kind.replace('_', ' ')} number gets no codes; MFA_FLOW_SMS_NUMBER_TYPES allows"
            f" {', '.join(settings.sms_number_types)}")


CHANNEL = Channel(factor="sms_code", channel="sms", field="phone", normalise=normalise_phone, mask=mask_phone,
                  smtp=False, amr="sms", refusal=number_type_refusal)
FACTOR = factor_of(CHANNEL)
