"""What the directory says about one address: is it a Microsoft 365 user the archive can write to?

A pure value: the mapping rule (domain) decides on it; the Graph directory adapter produces it;
the table cache stores it.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_RESOLVABLE = "the directory could not resolve this address"  # a look-up refused for this one address (4xx)


@dataclass(frozen=True)
class UserStatus:
    address: str  # the address that was looked up, lower-case
    exists: bool
    enabled: bool = False
    has_mailbox: bool = False
    user_id: str | None = None  # Entra object id
    primary_address: str | None = None  # the user's 'mail' (primary SMTP address)
    reason: str = ""  # why it is not a valid archive target, for the report

    @property
    def not_resolvable(self) -> bool:
        """The directory refused this address's look-up (not an outage, not 'no such user'): reported."""
        return self.reason.startswith(NOT_RESOLVABLE)

    @property
    def is_valid_target(self) -> bool:
        return self.exists and self.enabled and self.has_mailbox
