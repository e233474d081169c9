"""The record renderer: one WhatsApp feed item → one RFC 5322 message (.eml), pure, deterministic.

Public API::

    RenderOptions(display_timezone="UTC", max_item_bytes=150 MiB,
                  attachment_location=lambda a: f"attachments/{a.sha256}", default_region="US")
    render_record(item, *, mailbox_of, attachments, options, context=None) -> Record
        (context: archived originals by item id, quoted by replies, edits, deletions, reactions)
    render_transcript(conversation, day, items, *, mailbox_of, attachments, options) -> Record  (transcript mode)
    Record.eml / .item_class / .partial / .message_id / .subject / .embedded / .omitted / .html / .text

Format, in short (each module's docstring says why):

- From = sender, To = recipients: the mapped Microsoft 365 mailbox when ``mailbox_of`` gives one,
  else a stable address in the reserved, never-routable domain ``whatsapp.invalid`` (RFC 2606),
  e.g. ``447700900123@whatsapp.invalid`` or ``uid.<id>@whatsapp.invalid`` (``addresses``).
- Date = sent_at (UTC). Message-ID = ``<sha256("item",id)[:32 hex]@whatsapp-archiver.invalid>``;
  edits, deletions and reactions point at their target's Message-ID with In-Reply-To, and every
  record References its conversation's root id; Thread-Topic/Thread-Index group a chat in
  Outlook (``ids``).
- Item class ``IPM.ExternalData.WhatsAppArchiver.<Message|Edit|Deletion|Reaction|Call|Event>``
  (``labels``); all item metadata in X-WhatsApp-* headers (``headers``).
- Body: multipart/alternative text/plain + text/html, inside multipart/mixed with the files,
  all parts base64 UTF-8 (``mime``, ``body_text``, ``body_html``, ``view``). The HTML shows the
  message as WhatsApp did first (``chat_html``, ``wa_format``: a bubble with pictures inline from
  the record's own parts by ``cid:``, ``images``), then the evidence facts.
- Files: embedded only when their bytes hash to the item's sha256 and the record stays under
  ``max_item_bytes``; otherwise named in a text part and the record is *partial* (``attachments``).
"""

from shared.domain.record.addresses import RESERVED_DOMAIN
from shared.domain.record.attachments import OmittedAttachment, OmitReason
from shared.domain.record.ids import ID_DOMAIN, conversation_root_id, message_id_for, thread_index
from shared.domain.record.labels import ITEM_CLASS_PREFIX, item_class_for
from shared.domain.record.options import AttachmentSource, NoAttachments, RenderOptions, default_attachment_location
from shared.domain.record.render import Record, render_record
from shared.domain.record.transcript import TRANSCRIPT_CLASS, render_transcript, transcript_archive_id

__all__ = [
    "ID_DOMAIN",
    "ITEM_CLASS_PREFIX",
    "RESERVED_DOMAIN",
    "AttachmentSource",
    "NoAttachments",
    "OmitReason",
    "OmittedAttachment",
    "Record",
    "RenderOptions",
    "TRANSCRIPT_CLASS",
    "conversation_root_id",
    "default_attachment_location",
    "item_class_for",
    "message_id_for",
    "render_record",
    "render_transcript",
    "thread_index",
    "transcript_archive_id",
]
