"""mfa-flow: multi-factor sign-in as an explicit, replayable, tamper-evident state machine."""

__version__ = "0.1.0"
