"""What a message body or an author-less line says, in the languages the notes list.

``classify_body`` reads a message's body (after ``Author: ``), ``classify_system`` an author-less
line. Both look at a copy with the invisible marks removed and spaces normalised; the caller
keeps the raw text as the item's text (evidence is never rewritten). A marker we do not know
(another language) is simply text: it becomes a text record, never nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


_SPACES = re.compile(r"[\u00a0\u202f\u2009\u2007 ]{2,}|[\u00a0\u202f\u2009\u2007]")
_DROP_MARKS = {c: None for c in [0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]}


def plain(text: str) -> str:
    """Marks removed, exotic spaces made plain and runs of them collapsed, ends stripped."""
    text = text.translate(_DROP_MARKS)
    if text.isascii() and "  " not in text:
        return text.strip()
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Kind:
    name: str  # text attached omitted location live_location deleted edited call poll view_once undecryptable
    #            event e2e_notice system
    detail: dict = field(default_factory=dict)


# ---------------------------------------------------------------- media
_IOS_ATTACHED = re.compile(r"<(?:attached|Anhang|adjunto|pièce jointe|anexo|allegato|bijlage|joint): (?P<file>[^<>]+)>\s*$")
_ANDROID_ATTACHED = re.compile(
    r"^(?P<file>.+?) \((?:file attached|Datei angehängt|archivo adjunto|archivo adjuntado|fichier joint|arquivo anexado"
    r"|ficheiro anexado|file allegato|bestand bijgevoegd)\)$")
_ANDROID_OMITTED = {
    "<media omitted>", "<medien ausgeschlossen>", "<medien weggelassen>", "<multimedia omitido>", "<médias omis>",
    "<fichier omis>", "<mídia omitida>", "<ficheiro não revelado>", "<media omessi>", "<media weggelaten>",
}
_IOS_OMITTED = re.compile(
    r"^(?:.+ • .*)?(?P<what>image|video|audio|sticker|GIF|document|Contact card|Bild|Video|Audio|Dokument|Kontaktkarte"
    r"|imagen|documento|Tarjeta de contacto|vidéo|document|Fiche contact|imagem|vídeo|ficheiro de áudio|Contacto"
    r"|immagine|Scheda contatto|afbeelding|video|audio) (?:omitted|weggelassen|ausgelassen|omitida|omitido|absente|omis"
    r"|retiré|manquante?|não revelad[oa]|omess[oa]|non incluso|esclusa|weggelaten)$", re.IGNORECASE)
_KIND_WORDS = {
    "image": "image", "bild": "image", "imagen": "image", "imagem": "image", "immagine": "image", "afbeelding": "image",
    "video": "video", "vidéo": "video", "vídeo": "video", "audio": "audio", "ficheiro de áudio": "audio",
    "sticker": "sticker", "gif": "video", "document": "document", "dokument": "document", "documento": "document",
    "contact card": "contact", "kontaktkarte": "contact", "tarjeta de contacto": "contact", "fiche contact": "contact",
    "contacto": "contact", "scheda contatto": "contact",
}

# ---------------------------------------------------------------- deleted, edited, location, misc
_DELETED = {
    "this message was deleted": "other", "you deleted this message": "you",
    "diese nachricht wurde gelöscht": "other", "du hast diese nachricht gelöscht": "you",
    "se eliminó este mensaje": "other", "eliminaste este mensaje": "you",
    "ce message a été supprimé": "other", "vous avez supprimé ce message": "you",
    "esta mensagem foi apagada": "other", "apagou esta mensagem": "you", "você apagou esta mensagem": "you",
    "questo messaggio è stato eliminato": "other", "hai eliminato questo messaggio": "you",
    "dit bericht is verwijderd": "other", "u hebt dit bericht verwijderd": "you", "je hebt dit bericht verwijderd": "you",
}
_DELETED_BY_ADMIN = re.compile(r"^this message was deleted by admin", re.IGNORECASE)
_EDITED = re.compile(
    r"\s*<(?:This message was edited|Diese Nachricht wurde bearbeitet|Se editó este mensaje\.?|Ce message a été modifié"
    r"|Questo messaggio è stato modificato|Esta mensagem foi editada|Dit bericht is bewerkt)>$")
_LOCATION = re.compile(r"^(?:Location|location|Standort|Ubicación|ubicación|Localisation|Localização|localização|Posizione"
                       r"|posizione|locatie|Locatie): (?P<url>https?://\S+)$")
_PLACE = re.compile(r"^(?P<name>.+?): (?P<url>https?://(?:foursquare\.com|maps\.google\.com|goo\.gl|maps\.app\.goo\.gl)\S*)$")
_COORDS = re.compile(r"[?&](?:q|ll|query)=(?P<lat>-?\d{1,2}(?:\.\d+)?),\s*(?P<lon>-?\d{1,3}(?:\.\d+)?)")
_CALL = re.compile(r"^(?P<missed>Missed )?(?P<media>voice|video) call(?:\. (?P<rest>.*))?$", re.IGNORECASE)
_DURATION = re.compile(r"(?P<n>\d+) ?(?P<unit>hr|hour|h|min|sec|s)\b", re.IGNORECASE)
_E2E = re.compile(
    r"^(?:Messages and calls are end-to-end encrypted|Messages to this group are now secured with end-to-end"
    r"|Messages you send to this chat and calls are now secured|Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt"
    r"|Los mensajes y las llamadas están cifrados|Les messages et les appels sont chiffrés"
    r"|I messaggi e le chiamate sono crittografati|As mensagens e chamadas são encriptadas|As mensagens e as chamadas são"
    r"|Berichten en oproepen worden end-to-end versleuteld)", re.IGNORECASE)


_SECURITY = re.compile(r"^(?:Your security code with .+ changed|.+'s security code changed)", re.IGNORECASE)


def coordinates(url: str) -> tuple[float, float] | None:
    m = _COORDS.search(url)
    if not m:
        return None
    lat, lon = float(m.group("lat")), float(m.group("lon"))
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def _call(text: str) -> Kind | None:
    m = _CALL.match(text)
    if not m:
        return None
    rest = (m.group("rest") or "").strip()
    status = "answered"
    if m.group("missed") or rest.lower().startswith("tap to call back"):
        status = "missed"
    elif rest.lower().startswith(("no answer", "declined", "call declined")):
        status = "declined" if "declined" in rest.lower() else "missed"
    seconds = 0
    for d in _DURATION.finditer(rest):
        n, unit = int(d.group("n")), d.group("unit").lower()
        seconds += n * (3600 if unit in ("hr", "hour", "h") else 60 if unit == "min" else 1)
    return Kind("call", {"media": m.group("media").lower(), "status": status, "duration_seconds": seconds})


def classify_body(body: str) -> Kind:
    """The kind of a message body (``Author: <body>``), continuation lines included."""
    text = plain(body)
    first, _, more = text.partition("\n")
    first = plain(first)
    caption = more.strip() or None
    m = _IOS_ATTACHED.search(first)
    if m:
        return Kind("attached", {"file": m.group("file").strip(), "caption": caption, "platform": "ios"})
    m = _ANDROID_ATTACHED.match(first)
    if m:
        return Kind("attached", {"file": m.group("file").strip(), "caption": caption, "platform": "android"})
    if first.lower() in _ANDROID_OMITTED:
        return Kind("omitted", {"media": "media", "caption": caption})
    m = _IOS_OMITTED.match(first)
    if m and not more:
        return Kind("omitted", {"media": _KIND_WORDS.get(m.group("what").lower(), "media")})
    low = text.rstrip(".").lower()
    if low in _DELETED:
        return Kind("deleted", {"by": _DELETED[low]})
    if _DELETED_BY_ADMIN.match(text):
        return Kind("deleted", {"by": "admin"})
    if _EDITED.search(body.rstrip()):
        return Kind("edited", {})
    m = _LOCATION.match(text)
    if m:
        return Kind("location", {"url": m.group("url"), "coords": coordinates(m.group("url"))})
    m = _PLACE.match(text)
    if m and "\n" not in text:
        return Kind("location", {"url": m.group("url"), "coords": coordinates(m.group("url")), "name": m.group("name")})
    lines = [plain(x) for x in text.split("\n")]
    if len(lines) == 3 and lines[2].startswith(("https://maps.google.com", "http://maps.google.com")):
        return Kind("location", {"url": lines[2], "coords": coordinates(lines[2]), "name": lines[0], "address": lines[1]})
    if low == "live location shared":
        return Kind("live_location", {})
    call = _call(text)
    if call:
        return call
    if text.startswith("POLL:"):
        return Kind("poll", {})
    if low in ("null",) or low.startswith(("you received a view once message", "view once")):
        return Kind("view_once", {})
    if low == "waiting for this message":
        return Kind("undecryptable", {})
    if _E2E.match(text):
        return Kind("e2e_notice", {})
    if _SECURITY.match(text):  # iOS may put the participant as the line's author
        return Kind("event", {"event": "security_code_changed", "actor": None})
    return Kind("text", {})


# ---------------------------------------------------------------- author-less lines
_Q = "[\"“”«»„']"
_NAME = r"(?P<actor>[^:\n]+?)"
_EVENTS: list[tuple[str, re.Pattern]] = [
    ("group_created", re.compile(rf"^{_NAME} created (?:the )?group {_Q}(?P<detail>.*){_Q}$")),
    ("group_created", re.compile(rf"^{_NAME} (?:hat die Gruppe|a créé le groupe|creó el grupo|criou o grupo|ha creato il gruppo|heeft groep) .*$")),
    ("subject_changed", re.compile(rf"^{_NAME} changed the (?:subject|group name) (?:from {_Q}.*{_Q} )?to {_Q}(?P<detail>.*){_Q}$")),
    ("subject_changed", re.compile(rf"^{_NAME} changed this group's icon$")),
    ("participant_added", re.compile(rf"^{_NAME} added (?P<detail>.+)$")),
    ("participant_added", re.compile(r"^(?P<actor>You) were added$")),
    ("participant_added", re.compile(rf"^{_NAME} joined using this group's invite link$")),
    ("participant_added", re.compile(rf"^{_NAME} joined$")),
    ("participant_removed", re.compile(rf"^{_NAME} removed (?P<detail>.+)$")),
    ("participant_left", re.compile(rf"^{_NAME} left$")),
    ("number_changed", re.compile(rf"^{_NAME} changed to (?P<detail>.+)$")),
    ("number_changed", re.compile(rf"^{_NAME} changed their phone number to a new number.*$")),
    ("security_code_changed", re.compile(rf"^Your security code with {_NAME} changed.*$")),
    ("security_code_changed", re.compile(rf"^{_NAME}'s security code changed.*$")),
]
_SYSTEM_OTHER = re.compile(r"^(?:You're now an admin|You are now an admin|.+ changed the group description|.+ deleted this group's icon"
                           r"|.+ changed this group's settings|Disappearing messages|.+ turned on disappearing messages"
                           r"|.+ turned off disappearing messages|This chat is with a business account|.+ is a contact)", re.IGNORECASE)


def classify_system(line: str) -> Kind | None:
    """The kind of an author-less line, or None when it is not one we recognise as a system line."""
    text = plain(line)
    if _E2E.match(text):
        return Kind("e2e_notice", {})
    for kind, pattern in _EVENTS:
        m = pattern.match(text)
        if m:
            groups = m.groupdict()
            actor = groups.get("actor")
            if kind == "security_code_changed":
                actor = None
            return Kind("event", {"event": kind, "actor": actor.strip() if actor else None})
    if _SYSTEM_OTHER.match(text):
        return Kind("system", {})
    return None
