"""What the first bytes of an input say it is: the tests the registry sniffs with. NIfTI,
CIFTI-2 and tables may come gzip'd: their test looks at the first bytes that the head of the
gzip stream decompresses to (:func:`inner_head`), so that a gzip'd table on stdin is told from a
``.nii.gz`` whenever its head holds enough of it. Imports nothing heavy.
"""

from __future__ import annotations

import re

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member, or the end of an empty archive
GZIP_MAGIC = b"\x1f\x8b"

#: the NIfTI-2 intent codes of CIFTI-2 files: the kind's file suffix and what it holds
CIFTI_KINDS: dict[int, tuple[str, str]] = {
    3000: ("", "connectivity matrix of unknown kind"),
    3001: ("dconn", "dense connectivity"),
    3002: ("dtseries", "dense data series"),
    3003: ("pconn", "parcellated connectivity"),
    3004: ("ptseries", "parcellated data series"),
    3006: ("dscalar", "dense scalar"),
    3007: ("dlabel", "dense label"),
    3008: ("pscalar", "parcellated scalar"),
    3009: ("pdconn", "parcellated-dense connectivity"),
    3010: ("dpconn", "dense-parcellated connectivity"),
    3011: ("pconnseries", "parcellated connectivity series"),
    3012: ("pconnscalar", "parcellated connectivity scalar"),
}
#: where a NIfTI-2 header keeps its intent code (an int32)
_INTENT_AT = 504
#: bytes of a gzip stream's head decompressed to look at
_INNER_BYTES = 4096
_GIFTI_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?"  # a byte order mark, the XML declaration
    rb"(?:(?:<!--.*?-->|<!DOCTYPE[^>]*>|<\?.*?\?>)\s*)*"  # comments, a DOCTYPE
    rb"<GIFTI[\s>/]",
    re.DOTALL,
)


def is_npy(head: bytes) -> bool:
    return head.startswith(NPY_MAGIC)


def is_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGICS)


def inner_head(head: bytes) -> bytes:
    """``head`` itself, or for the head of a gzip stream what it decompresses to (up to a few
    KB; as much as decompresses before any error)."""
    if not head.startswith(GZIP_MAGIC):
        return head
    import zlib

    unzip = zlib.decompressobj(wbits=31)
    out = b""
    for at in range(0, len(head), 64):  # in pieces: a head that holds a whole (small) stream
        try:  # whose trailer is corrupt keeps what it decompressed before it
            out += unzip.decompress(head[at : at + 64], _INNER_BYTES - len(out))
        except zlib.error:
            break
        if unzip.eof or len(out) >= _INNER_BYTES:
            break
    return out


def _header_size(head: bytes) -> tuple[int, str] | None:
    """A NIfTI header's size (348 or 540) and its byte order, from its first four bytes."""
    if len(head) < 4:
        return None
    for order in ("little", "big"):
        size = int.from_bytes(head[:4], order)
        if size in (348, 540):
            return size, order
    return None


def nifti_intent(head: bytes) -> int | None:
    """The intent code of a plain NIfTI-2 header, if ``head`` holds that far."""
    found = _header_size(head)
    if found is None or found[0] != 540 or len(head) < _INTENT_AT + 4:
        return None
    return int.from_bytes(head[_INTENT_AT : _INTENT_AT + 4], found[1], signed=True)


def is_cifti(head: bytes) -> bool:
    """A NIfTI-2 header (plain or gzip'd) with a CIFTI-2 intent code; only when the head
    holds the intent code (508 bytes of header)."""
    return nifti_intent(inner_head(head)) in CIFTI_KINDS


def _is_text(data: bytes) -> bool:
    """UTF-8 text without NUL bytes (a character cut at the end is allowed)."""
    import codecs

    if not data or b"\0" in data:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def is_nifti(head: bytes) -> bool:
    """A NIfTI-1/2 header size, in either byte order; or gzip that does not decompress to
    text (a ``.nii.gz``, or a gzip stream too short or too broken to tell)."""
    if head.startswith(GZIP_MAGIC):
        return not _is_text(inner_head(head))
    return _header_size(head) is not None


def is_gifti(head: bytes) -> bool:
    """XML whose root element is ``<GIFTI``."""
    return _GIFTI_ROOT.match(head) is not None


def is_tsv(head: bytes) -> bool:
    """Text (plain or gzip'd) whose first line has a tab."""
    return b"\t" in inner_head(head).split(b"\n", 1)[0]
