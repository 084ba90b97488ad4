"""Failures a consumer tells apart: permanent ones are dead-lettered at once, others retried."""


class PermanentMessageError(Exception):
    """The message can never be applied (malformed, unknown, not ours): dead-letter it.

    ``reason`` goes into the dead letter's ``x-failure-reason`` header, so it must say what is
    wrong without quoting personal data.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
