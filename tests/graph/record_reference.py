"""The reference reader: ``parse_record`` as it was, every header through ``policy.default``.

``shared.adapters.graph.record.parse_record`` must give the same Record for every input
(tests/graph/test_record_parse_equivalence.py); ``python -m devtools.bench parse`` times both.
Production never reads a record this way. Both build the Record with the same ``record_of``: what
differs, and what the equivalence holds to account, is how the headers are read.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from shared.adapters.graph.record import Record, record_of

_DEFAULT = BytesParser(policy=policy.default)


def parse_record_reference(eml: bytes) -> Record:
    return record_of(_DEFAULT.parsebytes(eml))  # type: ignore[arg-type]
