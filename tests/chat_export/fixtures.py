"""Our own export fixtures, written from the documented shapes (../shared/chat-export-format.md).

LRM U+200E, RLM U+200F, NNBSP U+202F, NBSP U+00A0, LRE/PDF U+202A/U+202C, BOM U+FEFF.
Each fixture: (upload file name, text, media files, expected records by kind, owner name or None).
"""

from __future__ import annotations

import io
import zipfile

LRM, NNBSP, NBSP, LRE, PDF, BOM = "\u200e", "\u202f", "\u00a0", "\u202a", "\u202c", "\ufeff"
JPG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
OPUS = b"OggS-fake-voice-note"
VCF = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Tom Rivers\r\nTEL;type=CELL:+44 7700 900555\r\nEND:VCARD\r\n"

IOS_EN_US = "\r\n".join([
    f"{LRM}[1/11/23, 16:11:21] Dmitry S: {LRM}Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.",
    f"[1/11/23, 16:11:21] {LRM}You created group “Q4 pricing”",
    "[1/11/23, 16:12:05] Dmitry S: Hello World",
    "[1/11/23, 16:12:30] Dmitry S: Draft below:\nline two: with colon\n[not a header] line three",
    f"{LRM}[1/11/23, 16:13:00] Dmitry S: {LRM}<attached: 00000035-PHOTO-2023-01-11-16-13-00.jpg>",
    f"{LRM}[1/11/23, 16:13:10] Anna-Lena Ko: {LRM}image omitted",
    f"{LRM}[1/11/23, 16:14:00] Anna-Lena Ko: {LRM}<attached: 00000042-Tom Rivers.vcf>",
    f"{LRM}[1/11/23, 16:15:00] {LRE}+90{NBSP}531{NBSP}411{NBSP}38{NBSP}99{PDF}: {LRM}<attached: 00000043-AUDIO-2023-01-11-16-15-00.opus>",
    f"[1/11/23, 16:16:00] Dmitry S: {LRM}Location: https://maps.google.com/?q=51.5007,-0.1246",
    f"{LRM}[1/11/23, 16:17:00] Dmitry S: {LRM}You deleted this message.",
    f"[1/11/23, 4:18:00{NNBSP}PM] Anna-Lena Ko: {LRM}This message was deleted.",
    f"{LRM}[1/11/23, 16:19:00] Anna-Lena Ko: {LRM}Missed voice call. Tap to call back",
    f"{LRM}[1/11/23, 16:20:00] Dmitry S: {LRM}Voice call. 12 min",
    f"[1/11/23, 16:21:00] {LRM}Anna-Lena Ko added {LRE}+90{NBSP}531{NBSP}411{NBSP}38{NBSP}99{PDF}",
    f"[1/11/23, 16:22:00] {LRM}{LRE}+90{NBSP}531{NBSP}411{NBSP}38{NBSP}99{PDF} left",
    f"[1/11/23, 16:23:00] {LRM}Anna-Lena Ko changed the subject to “Re: pricing”",
    "[1/11/23, 16:24:00] ~ Kim: 😀 ok",
    f"{LRM}[1/11/23, 16:25:00] Dmitry S: {LRM}<attached: 00000050-PHOTO-missing.jpg>",
    "[1/13/23, 09:00:00] Dmitry S: 13th: month first",
]) + "\r\n"
IOS_EN_US_MEDIA = {"00000035-PHOTO-2023-01-11-16-13-00.jpg": JPG, "00000042-Tom Rivers.vcf": VCF,
                   "00000043-AUDIO-2023-01-11-16-15-00.opus": OPUS}

ANDROID_EN_GB = "\n".join([
    "23/03/2022, 13:31 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
    "23/03/2022, 13:31 - Alice Smith created group \"Client: Acme\"",
    "23/03/2022, 13:32 - Alice Smith: Hi: all",
    "23/03/2022, 13:33 - Alice Smith: IMG-20220323-WA0002.jpg (file attached)",
    "the caption, with: colon",
    "23/03/2022, 13:33 - +44 7123 456789: <Media omitted>",
    "23/03/2022, 13:33 - +44 7123 456789: <Media omitted>",
    "23/03/2022, 13:34 - Alice Smith: location: https://maps.google.com/?q=51.5,-0.12",
    "23/03/2022, 13:35 - Alice Smith: You deleted this message",
    "23/03/2022, 13:36 - +44 7123 456789: new text <This message was edited>",
    "23/03/2022, 13:37 - +44 7123 456789: Missed voice call",
    "23/03/2022, 13:38 - Alice Smith: POLL:",
    "Lunch?",
    "OPTION: Yes (2 votes)",
    "OPTION: No (0 votes)",
    "23/03/2022, 13:39 - +44 7123 456789: null",
    "23/03/2022, 13:40 - Alice Smith removed +44 7123 456789",
    "23/03/2022, 13:41 - You're now an admin",
    f"09/10/2023, 11:11{NNBSP}pm - Alice Smith: late",
    "24/03/2022, 09:00 - Alice Smith: PTT-20220324-WA0001.opus (file attached)",
])
ANDROID_EN_GB_MEDIA = {"IMG-20220323-WA0002.jpg": JPG, "PTT-20220324-WA0001.opus": OPUS}

ANDROID_DE = "\n".join([
    "29.01.18, 23:46 - Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen.",
    "29.01.18, 23:46 - Jörg: Grüße aus München",
    "29.01.18, 23:47 - Jörg: IMG-20180129-WA0001.jpg (Datei angehängt)",
    "30.01.18, 08:00 - Du: <Medien ausgeschlossen>",
    "30.01.18, 08:01 - Jörg: Diese Nachricht wurde gelöscht",
    "30.01.18, 08:02 - Du: Du hast diese Nachricht gelöscht",
    "30.01.18, 08:03 - Jörg: Standort: https://maps.google.com/?q=48.137,11.575",
])
ANDROID_ES_12H = "\n".join([
    f"20/6/2017 8:28 p.{NBSP}m. - Michelle: test",
    "01/01/2019, 11:25 a. m. - Michelle: <Multimedia omitido>",
    "01/01/2019, 12:05 a. m. - Pablo: Se eliminó este mensaje",
    "13/01/2019, 1:05 p. m. - Pablo: hola",
])
ANDROID_NL = "\n".join([
    "23-03-2022 13:31 - Jan: Goedemorgen",
    "23-03-2022 13:32 - Jan: <Media weggelaten>",
    "23-03-2022 13:33 - Piet: Dit bericht is verwijderd",
])
ANDROID_FI = "\n".join([
    "31.5.2019 klo 16.58 - Matti: moi",
    "31.5.2019 klo 17.02 - Liisa: hei",
])
IOS_DE = "\r\n".join([
    "[20.06.19, 15:58:47] Jörg: Hallo",
    f"{LRM}[20.06.19, 15:59:01] Jörg: {LRM}Bild weggelassen",
    f"{LRM}[20.06.19, 16:00:00] Anna: {LRM}Diese Nachricht wurde gelöscht.",
]) + "\r\n"
IOS_OLD = "\n".join([
    "6/23/17, 12:29:34 PM: Person 1: old style",
    "6/23/17, 12:30:01 AM: Person 2: midnight",
])
IOS_EN_GB_NO_COMMA = "\r\n".join([
    "[31/12/2022 11:40:26] John Doe: no comma",
    "[31/12/2022 11:41:00] Jane: reply",
]) + "\r\n"

ANDROID_EN_US = "\n".join([
    "1/29/18, 11:46 PM - Sam created group \"Deal room\"",
    "1/29/18, 11:46 PM - Sam added you",
    f"1/29/18, 11:47{NNBSP}PM - +91 70592 29103 joined using this group's invite link",
    f"1/30/18, 7:02{NNBSP}PM - Sam: evening - all good?",
    f"1/30/18, 7:03{NNBSP}PM - Pat Lee-Wong: Waiting for this message",
    f"1/30/18, 7:04{NNBSP}PM - Pat Lee-Wong: live location shared",
    f"1/30/18, 7:05{NNBSP}PM - Pat Lee-Wong: Eiffel Tower",
    "Paris, France",
    "https://maps.google.com/?q=48.8584,2.2945",
    f"1/30/18, 7:06{NNBSP}PM - +91 70592 29103 changed to +91 70592 29104",
    f"1/30/18, 7:07{NNBSP}PM - Pat Lee-Wong changed their phone number to a new number. Tap to message or add the new number.",
    f"1/30/18, 7:08{NNBSP}PM - Your security code with Sam changed. Tap to learn more.",
    f"1/30/18, 7:09{NNBSP}PM - Sam removed Pat Lee-Wong",
    f"1/30/18, 7:10{NNBSP}PM - +91 70592 29104 left",
    f"1/30/18, 7:11{NNBSP}PM - Sam: This message was deleted by admin Sam",
    f"1/30/18, 7:12{NNBSP}PM - Sam: Missed video call",
])
IOS_FR = "\r\n".join([
    "[3/27/22 21:41:35] Léa: Bonjour",
    f"{LRM}[3/27/22 21:41:40] Léa: {LRM}image absente",
    f"{LRM}[3/27/22 21:41:50] Hugo: {LRM}Ce message a été supprimé.",
    f"{LRM}[3/27/22 21:42:00] Hugo: {LRM}Vous avez supprimé ce message.",
    f"[3/27/22 21:43:00] Léa: {LRM}Localisation: https://maps.google.com/?q=48.85,2.35",
    "[3/28/22 08:00:00] Léa: à demain",
]) + "\r\n"
ANDROID_PT_BR = "\n".join([
    "27/03/2022 21:41 - Ana: Olá",
    "27/03/2022 21:42 - Ana: <Mídia omitida>",
    "27/03/2022 21:43 - João: Esta mensagem foi apagada",
    "27/03/2022 21:44 - João: DOC-20220327-WA0001.pdf (arquivo anexado)",
    "27/03/2022 21:45 - João: novo texto <Esta mensagem foi editada>",
])
ANDROID_IT = "\n".join([
    "27/03/22, 21:41 - I messaggi e le chiamate sono crittografati end-to-end.",
    "27/03/22, 21:41 - Marco: Ciao",
    "27/03/22, 21:42 - Marco: <Media omessi>",
    "27/03/22, 21:43 - Giulia: Questo messaggio è stato eliminato",
    "27/03/22, 21:44 - Giulia: Posizione: https://maps.google.com/?q=45.46,9.19",
])

FIXTURES = {
    # name: (upload name, text, media, date order, platform)
    "ios_en_us": ("WhatsApp Chat - Q4 pricing.zip", IOS_EN_US, IOS_EN_US_MEDIA, "mdy", "ios"),
    "android_en_gb": ("WhatsApp Chat with Client Acme.zip", ANDROID_EN_GB, ANDROID_EN_GB_MEDIA, "dmy", "android"),
    "android_de": ("WhatsApp Chat mit Jörg.zip", ANDROID_DE, {}, "dmy", "android"),
    "android_es_12h": ("Chat de WhatsApp con Michelle.zip", ANDROID_ES_12H, {}, "dmy", "android"),
    "android_nl": ("WhatsApp-chat met Jan.zip", ANDROID_NL, {}, "dmy", "android"),
    "android_fi": ("WhatsApp Chat with Matti.zip", ANDROID_FI, {}, "dmy", "android"),
    "ios_de": ("WhatsApp Chat - Jörg.zip", IOS_DE, {}, "dmy", "ios"),
    "ios_old": ("WhatsApp Chat - Old.zip", IOS_OLD, {}, "mdy", "ios"),
    "ios_en_gb": ("WhatsApp Chat - John.zip", IOS_EN_GB_NO_COMMA, {}, "dmy", "ios"),
    "android_en_us": ("WhatsApp Chat with Deal room.zip", ANDROID_EN_US, {}, "mdy", "android"),
    "ios_fr": ("WhatsApp Chat - Léa.zip", IOS_FR, {}, "mdy", "ios"),
    "android_pt_br": ("Conversa do WhatsApp com Ana.zip", ANDROID_PT_BR, {"DOC-20220327-WA0001.pdf": b"%PDF-1.4 fake"},
                      "dmy", "android"),
    "android_it": ("Chat WhatsApp con Marco.zip", ANDROID_IT, {}, "dmy", "android"),
}


def make_zip(text: str, media: dict[str, bytes], *, platform: str = "ios", chat: str = "X",
             encoding: str = "utf-8") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        name = "_chat.txt" if platform == "ios" else f"WhatsApp Chat with {chat}.txt"
        zf.writestr(name, text.encode(encoding))
        for file_name, data in media.items():
            zf.writestr(file_name, data)
        if platform == "ios":
            zf.writestr("__MACOSX/._chat.txt", b"\0\x05\x16\x07junk")
    return buf.getvalue()


def fixture_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)
