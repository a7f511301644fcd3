"""The typed error every betting function raises on bad input: it names the field and the value."""

from __future__ import annotations

__all__ = ["BettingInputError", "require_columns"]


class BettingInputError(ValueError):
    """`field` is the argument or column at fault, `value` what it held, `reason` why that is wrong."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}={value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


def require_columns(frame_name: str, columns: object, needed: tuple[str, ...]) -> None:
    """Raise naming the first missing column of a frame."""
    present = set(columns)  # type: ignore[call-overload]
    for column in needed:
        if column not in present:
            raise BettingInputError(frame_name, sorted(present), f"lacks column {column!r}")
