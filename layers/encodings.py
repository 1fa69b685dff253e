"""Text encodings of the files captains bring: a shapefile's ``.cpg`` and DBF bytes.

Chinese shapefiles come as UTF-8 or GBK, with a ``.cpg`` that is missing or wrong as
often as right; the encoding is told from the DBF's own bytes when the ``.cpg`` does not
fit them.
"""

from __future__ import annotations

import codecs
import logging
import struct

__all__ = ["detect_dbf_encoding", "normalize_encoding", "shapefile_encoding"]

logger = logging.getLogger(__name__)


def normalize_encoding(name: str) -> str | None:
    """Return a codec name for a .cpg content or user text, None when unknown."""
    text = name.strip().upper().removeprefix("ANSI").strip()
    if text in ("65001", "UTF8", "UTF-8"):
        return "UTF-8"
    if text.isdigit():
        text = f"CP{text}"
    # Decoding GBK/GB2312/CP936 text as GB18030, their superset, loses nothing.
    if text in ("GBK", "GB2312", "CP936", "936", "EUC-CN"):
        return "GB18030"
    try:
        codecs.lookup(text)
    except LookupError:
        return None
    return text


def _dbf_text_fields(dbf: bytes) -> list[bytes]:
    """Return the raw bytes of field names and character values of a DBF (a sample)."""
    if len(dbf) < 32:
        return []
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    names: list[bytes] = []
    fields: list[tuple[int, int]] = []
    offset, position = 32, 1  # a record starts with its deletion flag
    while offset + 32 <= min(header_len, len(dbf)) and dbf[offset] != 0x0D:
        descriptor = dbf[offset : offset + 32]
        names.append(descriptor[:11].split(b"\x00")[0])
        width = descriptor[16]
        if descriptor[11:12] == b"C":
            fields.append((position, width))
        position += width
        offset += 32
    values = list(names)
    if record_len <= 0:
        return values
    for start in range(header_len, min(len(dbf), header_len + n_records * record_len), record_len):
        record = dbf[start : start + record_len]
        values += [record[pos : pos + width].strip() for pos, width in fields]
    return values


def _decodes(values: list[bytes], encoding: str) -> bool:
    encoding = codecs.lookup(encoding).name
    for value in values:
        try:
            value.decode(encoding)
        except UnicodeDecodeError as exc:
            # A fixed-width DBF field may cut the last character of a value in two.
            if (
                encoding == "utf-8"
                and exc.start >= len(value) - 3
                and exc.reason
                in (
                    "unexpected end of data",
                    "invalid continuation byte",
                )
            ):
                try:
                    value[: exc.start].decode(encoding)
                    continue
                except UnicodeDecodeError:
                    return False
            return False
    return True


def detect_dbf_encoding(dbf: bytes) -> str | None:
    """Guess the text encoding of a DBF without a .cpg: UTF-8, GB18030 (GBK) or unknown.

    Parameters
    ----------
    dbf
        The DBF bytes (a leading sample of the file is enough).

    Returns
    -------
    str or None
        ``"UTF-8"`` or ``"GB18030"``; None when the text is plain ASCII or neither fits
        (GDAL's default then applies).
    """
    values = [v for v in _dbf_text_fields(dbf) if v]
    if not any(max(v) >= 0x80 for v in values):
        return None
    # UTF-8 is strict enough that GBK text almost never passes as UTF-8; the reverse
    # is not true, so UTF-8 is tried first.
    if _decodes(values, "utf-8"):
        return "UTF-8"
    if _decodes(values, "gb18030"):
        return "GB18030"
    return None


def shapefile_encoding(
    label: str, cpg: bytes | None, dbf: bytes | None, encoding: str | None
) -> str | None:
    if encoding is not None:
        return encoding
    if cpg is not None:
        cpg_text = cpg.decode("ascii", errors="ignore")
        normalized = normalize_encoding(cpg_text)
        values = [v for v in _dbf_text_fields(dbf or b"") if v]
        if normalized is not None and _decodes(values, normalized):
            logger.debug("%s: encoding %s from .cpg", label, normalized)
            return normalized
        # Old exporters often write a .cpg that does not match the data (UTF-8 over GBK).
        logger.warning("%s: .cpg says %r, which does not fit the data; guessing", label, cpg_text)
    if dbf is None:
        return None
    detected = detect_dbf_encoding(dbf)
    if detected is not None:
        logger.info("%s has no usable .cpg; text detected as %s", label, detected)
    return detected
