"""The direct MIME writer gives the very bytes the stdlib ``EmailMessage`` path gives.

A record's bytes are evidence (same item, same bytes, for ever): the fast writer
(``mime_writer``) must not change a byte. Each item is rendered twice, once with the writer and
once with ``mime_reference.assemble_with_stdlib`` swapped in, and the two .eml files must be equal, for
hostile generated items and for the header shapes the writer hands back to the stdlib (long,
non-ASCII, quoted or folded values).
"""

from __future__ import annotations

from contextlib import contextmanager
from unittest.mock import patch

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import shared.domain.record.render as render_module
import shared.domain.record.transcript as transcript_module
from shared.domain.items import Item
from shared.domain.record import RenderOptions, render_record, render_transcript
from shared.domain.record.header_fold import fold_unstructured
from shared.domain.record.headers import POLICY
from tests.domain.mime_reference import assemble_with_stdlib
from tests.domain.record_samples import RAW, BLOBS, DictSource, att, item as sample_item, mailbox_of
from tests.domain.test_record_properties import SETTINGS, FateSource, items


@contextmanager
def stdlib_assembly():
    with patch.object(render_module, "assemble", assemble_with_stdlib), \
            patch.object(transcript_module, "assemble", assemble_with_stdlib):
        yield


def both(render):
    fast = render()
    with stdlib_assembly():
        reference = render()
    return fast, reference


@SETTINGS
@given(items())
def test_writer_bytes_equal_the_stdlib_for_any_item(drawn) -> None:
    item, files = drawn
    source = FateSource(files)

    def record():
        return render_record(item, mailbox_of=lambda p: p.email, attachments=source, options=RenderOptions()).eml

    def transcript():
        return render_transcript(item.conversation, "2026-11-22", [item], mailbox_of=lambda p: p.email,
                                 attachments=source, options=RenderOptions()).eml

    fast, reference = both(record)
    assert fast == reference
    fast, reference = both(transcript)
    assert fast == reference


@pytest.mark.parametrize("name", sorted(RAW))
def test_writer_bytes_equal_the_stdlib_for_every_sample(name: str) -> None:
    fast, reference = both(lambda: render_record(sample_item(name), mailbox_of=mailbox_of, attachments=DictSource(),
                                                 options=RenderOptions()).eml)
    assert fast == reference


LONG_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_NAMES = ["a" * 40 + ".pdf", "b" * 29 + ".pdf", "b" * 30 + ".pdf", "quote\"and\\slash.pdf", "Grüße.pdf",
              "日本語のファイル名" * 4 + ".docx", "=?utf-8?q?x?=.pdf", "semi;colon (1).pdf", "x" * 146 + ".pdf", "tab\there.pdf"]
SUBJECTS = ["", "x" * 64, "x" * 65, "x" * 66, "two  spaces", " lead", "trail ", "a" * 90, "ünïcödé " * 12,
            "=?utf-8?q?=41?=", "tab\there", "(comment) <angle> \"quoted\""]


@pytest.mark.parametrize("file_name", FILE_NAMES)
def test_file_part_headers_the_writer_leaves_to_the_stdlib(file_name: str) -> None:
    files = [att("f1", file_name, LONG_TYPE, "document", "pdf"), att("f2", file_name, "image/png", "image", "photo"),
             att("f3", file_name, "application/pdf", "document", "audio")]  # f3: wrong bytes -> omitted part
    raw = {**RAW["message_text"], "text": "files", "attachments": files}
    item = Item.model_validate(raw)
    fast, reference = both(lambda: render_record(item, mailbox_of=mailbox_of, attachments=DictSource(BLOBS),
                                                 options=RenderOptions()).eml)
    assert fast == reference


@pytest.mark.parametrize("text", SUBJECTS)
def test_subject_and_topic_shapes(text: str) -> None:
    raw = {**RAW["message_text"], "text": text, "conversation": {"id": "c" * 70, "kind": "group", "title": text}}
    item = Item.model_validate(raw)
    fast, reference = both(lambda: render_record(item, mailbox_of=mailbox_of, options=RenderOptions()).eml)
    assert fast == reference


WORDS = st.one_of(st.sampled_from(["WhatsApp", "\u00b7", "Q4", "pricing", "Alice", "Smith:", "Gr\u00fc\u00dfe", "\u65e5\u672c",
                                   "\U0001F44D\U0001F3FD", "=", "?", "_", "x" * 76, "y" * 77, "z" * 120, "\u00e9" * 40,
                                   "<conversation.88824a490933465ca222a942b884ac1a@whatsapp-archiver.invalid>"]),
                  st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=30))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["Subject", "Thread-Topic", "References", "In-Reply-To"]), st.lists(WORDS, min_size=1, max_size=14))
def test_unstructured_fold_equals_the_stdlib(name: str, words: list[str]) -> None:
    value = " ".join(words)
    folded = fold_unstructured(name, value)
    assume(folded is not None)  # shapes it does not cover go to the stdlib
    assert folded == POLICY.header_store_parse(name, value)[1].fold(policy=POLICY)


def test_unstructured_fold_declines_what_it_does_not_cover() -> None:
    for value in ["", " lead", "trail ", "two  spaces", "tab\there", "=?utf-8?q?x?=", "nbsp\u00a0here", "nul\0"]:
        assert fold_unstructured("Subject", value) is None
