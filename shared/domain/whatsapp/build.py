"""Contract items are built through the contract model: what leaves this package always validates."""

from __future__ import annotations

from typing import Any

from shared.domain.items import ItemRejected, parse_item
from shared.domain.whatsapp.reading import Problem


def contract_item(data: dict[str, Any]) -> dict[str, Any]:
    """The item as JSON-ready primitives after validation by ``shared.domain.items.Item``; Problem if it fails."""
    try:
        item = parse_item(data)
    except ItemRejected as exc:
        raise Problem(f"the item would not meet the contract: {exc.reason}") from None
    return item.model_dump(mode="json", exclude_none=True)
