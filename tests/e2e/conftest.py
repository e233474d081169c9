from __future__ import annotations

import pytest

from devtools.local_world import start_world

# Short claims and retry delays so crash recovery and retries happen within a test's time.
FAST = {"DELIVERY_CLAIM_SECONDS": "5", "DIRECTORY_CACHE_TTL_MINUTES": "60"}


@pytest.fixture
def world(storage_connection):
    with start_world(storage_connection=storage_connection, overrides=FAST) as w:
        yield w


def quiet(_message: str) -> None:
    pass
