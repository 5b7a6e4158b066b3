"""Content-addressed store for uploaded photos and documents.

Files are named by the SHA-256 of their bytes, so the same photo sent twice
(or by two applications) is kept once, and a name never points at different
content.  Writes go to a temporary file in the target folder and are moved
into place with ``os.replace``: a crash leaves either no file or a complete
one, never a truncated file under a valid name.  Disk work runs in a thread
so a large upload does not stall the other conversations on the event loop.

Which sizes and types are acceptable is the caller's decision;
:func:`sniff_mime` tells what the bytes really are, whatever their name says.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import secrets
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("data") / "files"
OUTGOING_KEPT_S = 24 * 3600
"""How long a file made to be sent stays on disk (it was sent when made)."""

_SUFFIX_RE = re.compile(r"^(\.[a-z0-9]{1,10})?$")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """Where saved bytes ended up; ``path`` is relative to the store root (POSIX)."""

    path: str
    size: int
    sha256: str
    created: bool
    """False when identical bytes were already stored and nothing was written."""


FALLBACK_SUFFIX = ".bin"


def _normalise_suffix(suffix: str) -> str:
    """A safe file suffix: lower case, leading dot, ASCII letters and digits only.

    Suffixes are often taken from file names users chose ("报告.文档",
    "../../x"); the bytes are identified by hash and their type is recorded
    elsewhere, so anything unusual simply becomes ``.bin`` instead of failing
    an upload.
    """
    suffix = suffix.strip().lower()
    if suffix and not suffix.startswith("."):
        suffix = "." + suffix
    return suffix if _SUFFIX_RE.match(suffix) else FALLBACK_SUFFIX


class FileStore:
    """Bytes on disk under ``root``, sharded by the first two hex digits of the hash."""

    def __init__(self, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    async def outgoing(self, folder: str, suffix: str) -> Path:
        """A fresh path for a file made only to be sent (a workbook, a printed form),
        under ``root/<folder>``, owner-only.  Such files are not uploads: they are
        not content-addressed nor kept, and those made more than ``OUTGOING_KEPT_S``
        ago (long sent) are removed first."""
        suffix = _normalise_suffix(suffix)
        return await asyncio.to_thread(self._outgoing_sync, folder, suffix)

    def _outgoing_sync(self, folder: str, suffix: str) -> Path:
        place = self.root / folder
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
        oldest = time.time() - OUTGOING_KEPT_S
        for old in place.glob(f"*{suffix}"):
            with contextlib.suppress(OSError):  # removed by another process meanwhile
                if old.stat().st_mtime < oldest:
                    old.unlink()
        return place / f"{secrets.token_hex(12)}{suffix}"

    async def save(self, data: bytes, *, suffix: str) -> StoredFile:
        """Store ``data`` (if not already there) and tell where it lives."""
        suffix = _normalise_suffix(suffix)
        return await asyncio.to_thread(self._save_sync, data, suffix)

    def _save_sync(self, data: bytes, suffix: str) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{digest[:2]}/{digest}{suffix}"
        target = self.root / rel
        # Same name means same hash; the size check only guards against a file
        # damaged outside the store, which is then rewritten.
        if target.is_file() and target.stat().st_size == len(data):
            return StoredFile(path=rel, size=len(data), sha256=digest, created=False)
        for folder in (self.root, target.parent):  # owner-only: applicants' documents
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(target.parent)
        return StoredFile(path=rel, size=len(data), sha256=digest, created=True)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not possible (nor needed) on every platform."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"

MIME_JPEG = "image/jpeg"
MIME_PNG = "image/png"
MIME_GIF = "image/gif"
MIME_WEBP = "image/webp"
MIME_HEIC = "image/heic"
MIME_HEIF = "image/heif"
MIME_PDF = "application/pdf"
MIME_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MIME_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIME_DOC = "application/msword"
MIME_XLS = "application/vnd.ms-excel"
MIME_MP4 = "video/mp4"
MIME_MOV = "video/quicktime"
MIME_ZIP = "application/zip"
MIME_OLE = "application/x-ole-storage"
MIME_UNKNOWN = "application/octet-stream"

# ISO base media files (HEIC photos, MP4 and MOV videos) open with a ``ftyp``
# box naming a major brand and the compatible ones; the brands, not the
# container, say what the file holds.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
# AVIF also lists mif1 among its brands; it is not one of the accepted kinds,
# so it must not pass for HEIF.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# Same container, other contents: audio, AVIF, JPEG 2000, camera raw.  Their
# compatible brands (mp42, isom, mif1) would otherwise pass them for video or HEIF.
_OTHER_MAJOR_BRANDS = _AVIF_BRANDS | frozenset(
    {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ", b"jp2 ", b"jpx ", b"jpm ", b"crx "}
)
_MOV_BRANDS = frozenset({b"qt  "})
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso7",
        b"iso8",
        b"iso9",
        b"mp41",
        b"mp42",
        b"mp71",
        b"avc1",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"dash",
        b"msnv",
        b"mmp4",
        b"XAVC",
        b"f4v ",
    }
)
_VIDEO_BRANDS = _MOV_BRANDS | _MP4_BRANDS
# Old QuickTime files have no ``ftyp`` and start straight with one of these atoms.
_MOV_FIRST_ATOMS = frozenset({b"moov", b"mdat", b"wide"})
_PDF_HEADER = re.compile(rb"%PDF-\d\.\d")


def sniff_mime(data: bytes) -> str:
    """The media type of ``data`` judged by its content (magic bytes), not its name.

    What a client says a file is (its name, its MIME type) is chosen by the
    sender and proves nothing: a script can be called ``report.pdf``.  Only
    formats recognised here by their own signature are named; anything else,
    an empty file included, is :data:`MIME_UNKNOWN`, so a caller that accepts
    known types only never keeps bytes it cannot vouch for.  Text formats
    (HTML, SVG, shell scripts) have no signature and stay unknown on purpose:
    they can carry code.

    Office files need a closer look: DOCX and XLSX are both ZIP archives and
    DOC and XLS both OLE compound files; the parts inside tell them apart.
    A ZIP or OLE file that is neither comes back as generic zip / OLE storage.
    HEIC/HEIF photos and MP4/MOV videos share one container and are told
    apart by its brands (:func:`_sniff_iso_media`).
    """
    if data.startswith(b"\xff\xd8\xff"):
        return MIME_JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return MIME_PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return MIME_GIF
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return MIME_WEBP
    # Readers accept a PDF header after leading blank bytes; the version
    # digits keep a text that merely mentions "%PDF-" from passing.
    if _PDF_HEADER.match(data[:1024].lstrip(b"\x00\t\n\r\x0c ")):
        return MIME_PDF
    if data.startswith(_ZIP_MAGIC):
        return _sniff_zip(data)
    if data.startswith(_OLE_MAGIC):
        return _sniff_ole(data)
    return _sniff_iso_media(data)


def _sniff_iso_media(data: bytes) -> str:
    """HEIC/HEIF, MP4 or MOV from the ``ftyp`` box at the start, else unknown."""
    if len(data) < 12:
        return MIME_UNKNOWN
    box_size = int.from_bytes(data[:4], "big")
    if data[4:8] != b"ftyp":
        # A QuickTime atom's size is 0 (to the end), 1 (64-bit size follows) or >= 8.
        if data[4:8] in _MOV_FIRST_ATOMS and (box_size in (0, 1) or box_size >= 8):
            return MIME_MOV
        return MIME_UNKNOWN
    if box_size < 16:
        return MIME_UNKNOWN
    end = min(box_size, len(data), 4096)
    # major brand, then (after the 4-byte minor version) the compatible brands
    return _judge_brands([data[8:12], *(data[i : i + 4] for i in range(16, end - 3, 4))])


def _judge_brands(brands: list[bytes]) -> str:
    """What an ISO media file holds, from its major brand and its compatible ones.

    Photos win over video when both kinds of brand are listed: an iPhone
    photo says ``mif1`` and ``heic``, never a video brand it does not hold.
    For video the major brand decides first, then the compatible ones in order.
    """
    if brands[0] in _OTHER_MAJOR_BRANDS:
        return MIME_UNKNOWN
    found = set(brands)
    if found & _HEIC_BRANDS:
        return MIME_HEIC
    if found & _AVIF_BRANDS:
        return MIME_UNKNOWN
    if found & _HEIF_BRANDS:
        return MIME_HEIF
    video = (MIME_MOV if b in _MOV_BRANDS else MIME_MP4 for b in brands if b in _VIDEO_BRANDS)
    return next(video, MIME_UNKNOWN)


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        # Truncated or odd archive: local file headers still carry the names.
        head = data[:65536]
        names = ["word/"] if b"word/" in head else ["xl/"] if b"xl/" in head else []
    if any(n.startswith("word/") for n in names):
        return MIME_DOCX
    if any(n.startswith("xl/") for n in names):
        return MIME_XLSX
    return MIME_ZIP


def _sniff_ole(data: bytes) -> str:
    # Directory entries name their streams in UTF-16LE: Word keeps the text in
    # "WordDocument", Excel in "Workbook" (BIFF8) or "Book" (BIFF5).
    if "WordDocument".encode("utf-16-le") in data:
        return MIME_DOC
    if "Workbook".encode("utf-16-le") in data or "Book\x00".encode("utf-16-le") in data:
        return MIME_XLS
    return MIME_OLE


_SUFFIXES = {
    MIME_JPEG: ".jpg",
    MIME_PNG: ".png",
    MIME_GIF: ".gif",
    MIME_WEBP: ".webp",
    MIME_HEIC: ".heic",
    MIME_HEIF: ".heif",
    MIME_PDF: ".pdf",
    MIME_DOCX: ".docx",
    MIME_DOC: ".doc",
    MIME_XLSX: ".xlsx",
    MIME_XLS: ".xls",
    MIME_MP4: ".mp4",
    MIME_MOV: ".mov",
}


def suffix_for(mime: str) -> str:
    """The stored file's suffix, from its sniffed type only: a suffix taken
    from the user's file name (".html", ".sh") could make a viewer or a
    server treat the stored bytes as something they were refused as."""
    return _SUFFIXES.get(mime, FALLBACK_SUFFIX)
