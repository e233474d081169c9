"""A 40,000-message export is read in streams: the parser's memory does not grow with the file."""

from __future__ import annotations

import tracemalloc

from devtools.chat_export_sample import write_export_zip
from shared.adapters.chat_export_zip import ExportArchive
from shared.domain.chat_export.ids import EntryIds
from shared.domain.chat_export.parser import Entry, authors, parse, scan


def _parse_all(path) -> tuple[int, int, int]:
    """(entries, problems, peak bytes) for scan + authors + parse + ids over the whole export."""
    tracemalloc.start()
    with ExportArchive(path) as archive:
        profile = scan(archive.lines())
        people = authors(archive.lines(), profile)
        entries = problems = 0
        ids_of, ids = EntryIds("o@x.com", "chat", "GB"), set()  # the importer's id state and its ids_in_file
        for e in parse(archive.lines(), profile):
            if isinstance(e, Entry):
                ids.add(ids_of(e)[0])
                entries += 1
            else:
                problems += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert people
    return entries, problems, peak


def test_a_40000_message_export_parses_whole_and_memory_stays_flat(tmp_path):
    small = write_export_zip(tmp_path / "small.zip", 4_000)
    big = write_export_zip(tmp_path / "big.zip", 40_000)
    n_small, p_small, peak_small = _parse_all(small)
    n_big, p_big, peak_big = _parse_all(big)
    assert (n_small, n_big) == (4_001, 40_001) and p_small == p_big == 0
    # the occurrence counter holds one short key per message (the only per-message state);
    # everything else is streamed: ten times the messages costs far less than ten times the memory
    assert peak_big < 5 * peak_small, (peak_small, peak_big)
