"""Globs for ``--include`` / ``--exclude``, with ripgrep's ``-g`` (gitignore) meaning, matched
against a path relative to the folder it was found under (``/``-separated).

- ``*`` matches any run of characters but ``/``; ``?`` one character but ``/``;
  ``[abc]``, ``[a-z]``, ``[!a]`` / ``[^a]`` one character of (not of) a set;
  ``{a,b}`` either alternative (a ``/`` in one anchors the glob); ``\\x`` the character ``x``.
- ``**`` as a whole component crosses folders: ``**/x`` is ``x`` at any depth (none too),
  ``a/**`` everything under ``a``, ``a/**/b`` ``b`` anywhere under ``a``. Elsewhere
  (``a**b``) it is ``*``.
- A glob without a ``/`` (other than a trailing one) matches a name at any depth; one with a
  ``/`` is anchored at the folder (a leading ``/`` or ``./`` only anchors).
- A glob that matches a folder matches everything in it (``--exclude sub-02``); a trailing
  ``/`` matches folders only.

Matching is wcmatch's (``GLOBSTAR``, ``BRACE``, ``DOTGLOB``): it compiles a glob to a
regular expression whose stars are atomic groups, so a glob matches in time linear in the
name (a hand-written translation backtracked exponentially: ``*a*a*a*a*a*b`` never ended on a
240-character name). What is smoothcli's own is the anchoring and folder rules above, and
that a malformed glob is an error rather than a literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class GlobError(ValueError):
    """A glob that cannot be read (an unclosed ``[`` or ``{``, a trailing ``\\``)."""


#: a glob's tokens: an escape (``\\`` and what it escapes, if anything), a set (``[...]``,
#: closed or not; a ``]`` first is a member) and a brace
_TOKEN = re.compile(r"\\(.?)|\[[!^]?\]?(?:\\.|[^]\\])*(\])?|([{}])", re.S)


def _check(glob: str) -> None:
    """Raise :class:`GlobError` for a glob wcmatch would take literally: an unclosed ``[``
    or ``{``, braces in braces, a trailing ``\\``."""
    in_braces = False
    for m in _TOKEN.finditer(glob):
        _, closed, brace = m.groups()
        if m.group() == "\\":
            raise GlobError(f"a trailing '\\' in {glob!r}")
        if m.group()[0] == "[" and not closed:
            raise GlobError(f"unclosed '[' in {glob!r}")
        if brace == "{" and in_braces:
            raise GlobError(f"nested '{{' in {glob!r}")
        if brace:
            in_braces = brace == "{"
    if in_braces:
        raise GlobError(f"unclosed '{{' in {glob!r}")


@dataclass(frozen=True)
class Glob:
    """A compiled glob: :meth:`match` a relative path (``/``-separated)."""

    text: str
    matcher: Any  # wcmatch's compiled matcher
    dirs_only: bool

    def match(self, relative: str) -> bool:
        """Whether the glob matches ``relative`` or one of the folders it lies in."""
        parts = relative.split("/")  # the folders first (a/, a/b/), then the file itself
        if any(self.matcher.match("/".join(parts[:k])) for k in range(1, len(parts))):
            return True
        return not self.dirs_only and bool(self.matcher.match(relative))

    def match_folder(self, relative: str) -> bool:
        """Whether the glob matches the folder ``relative`` itself (and so all it holds)."""
        return bool(self.matcher.match(relative))


def compile_glob(text: str) -> Glob:
    """Compile one ``--include``/``--exclude`` glob; :class:`GlobError` if it is malformed."""
    from wcmatch import glob as wcglob

    glob = text
    dirs_only = glob.endswith("/") and glob != "/"
    glob = glob.rstrip("/") if dirs_only else glob
    if glob.startswith("./"):
        glob = "/" + glob[2:]
    anchored = "/" in glob
    glob = glob.lstrip("/")
    if not glob:
        raise GlobError(f"the glob {text!r} matches nothing")
    _check(glob)
    if not anchored:
        glob = "**/" + glob
    flags = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.DOTGLOB
    try:
        matcher = wcglob.compile(glob, flags=flags)
    except Exception as exc:  # wcmatch's own complaints (a pattern too large to expand)
        raise GlobError(f"cannot read the glob {text!r}: {exc}") from None
    return Glob(text, matcher, dirs_only)
