"""Globs for ``--include`` / ``--exclude``, with ripgrep's ``-g`` (gitignore) meaning, matched
against a path relative to the folder it was found under (``/``-separated).

- ``*`` matches any run of characters but ``/``; ``?`` one character but ``/``;
  ``[abc]``, ``[a-z]``, ``[!a]`` / ``[^a]`` one character of (not of) a set;
  ``{a,b}`` either alternative (globs, not nested braces; a ``/`` in one anchors the glob);
  ``\\x`` the character ``x`` itself.
- ``**`` as a whole component crosses folders: ``**/x`` is ``x`` at any depth (none too),
  ``a/**`` everything under ``a``, ``a/**/b`` ``b`` anywhere under ``a``. Elsewhere
  (``a**b``) it is ``*``.
- A glob without a ``/`` (other than a trailing one) matches a name at any depth; one with a
  ``/`` is anchored at the folder (a leading ``/`` or ``./`` only anchors).
- A glob that matches a folder matches everything in it (``--exclude sub-02``); a trailing
  ``/`` matches folders only.

The standard library cannot do this on Python 3.11: ``fnmatch``'s ``*`` crosses ``/`` and knows
no ``**``, and ``PurePath.full_match`` is 3.13+. The translation to one regular expression is
small and tested (tests/test_discover.py), so it is done here rather than with a dependency.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Glob", "GlobError", "compile_glob", "matches_any"]


class GlobError(ValueError):
    """A glob that cannot be read (an unclosed ``[`` or ``{``, a trailing ``\\``)."""


def _class(glob: str, i: int) -> tuple[str, int]:
    """The character set starting at ``glob[i] == "["``: its regex and the index after it."""
    j = i + 1
    negate = j < len(glob) and glob[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    first = True
    while j < len(glob) and (glob[j] != "]" or first):
        ch = glob[j]
        if ch == "\\" and j + 1 < len(glob):
            j += 1
            ch = glob[j]
        if j + 2 < len(glob) and glob[j + 1] == "-" and glob[j + 2] != "]":
            items.append(f"{re.escape(ch)}-{re.escape(glob[j + 2])}")
            j += 3
        else:
            items.append(re.escape(ch))
            j += 1
        first = False
    if j >= len(glob):
        raise GlobError(f"unclosed '[' in {glob!r}")
    body = "".join(items)
    return (f"[^/{body}]" if negate else f"(?!/)[{body}]"), j + 1


def _translate(glob: str, *, in_braces: bool = False) -> str:
    """The regex of a glob component sequence (``/`` kept as is, ``**`` handled by caller
    for whole components)."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "\\":
            if i + 1 >= len(glob):
                raise GlobError(f"a trailing '\\' in {glob!r}")
            out.append(re.escape(glob[i + 1]))
            i += 2
        elif ch == "*":
            while i < len(glob) and glob[i] == "*":
                i += 1
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            part, i = _class(glob, i)
            out.append(part)
        elif ch == "{":
            if in_braces:
                raise GlobError(f"nested '{{' in {glob!r}")
            end, alts, start, depth = None, [], i + 1, 0
            j = i + 1
            while j < len(glob):
                c = glob[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "[":
                    _, j = _class(glob, j)
                    continue
                if c == "}" and depth == 0:
                    alts.append(glob[start:j])
                    end = j
                    break
                if c == "," and depth == 0:
                    alts.append(glob[start:j])
                    start = j + 1
                j += 1
            if end is None:
                raise GlobError(f"unclosed '{{' in {glob!r}")
            out.append("(?:" + "|".join(_translate(a, in_braces=True) for a in alts) + ")")
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def _split(glob: str) -> list[str]:
    """``glob``'s components: split at each ``/`` outside ``[...]``, ``{...}`` and escapes."""
    parts, start, i, depth = [], 0, 0, 0
    while i < len(glob):
        ch = glob[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            try:
                _, i = _class(glob, i)
            except GlobError:
                i += 1  # reported when the component is translated
            continue
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        elif ch == "/" and not depth:
            parts.append(glob[start:i])
            start = i + 1
        i += 1
    parts.append(glob[start:])
    return parts


@dataclass(frozen=True)
class Glob:
    """A compiled glob: :meth:`match` a relative path (``/``-separated)."""

    text: str
    regex: re.Pattern[str]
    dirs_only: bool

    def match(self, relative: str) -> bool:
        """Whether the glob matches ``relative`` or one of the folders it lies in."""
        parts = relative.split("/")
        # the folders first (a/, a/b/), then the file itself
        for k in range(1, len(parts)):
            if self.regex.fullmatch("/".join(parts[:k])):
                return True
        return not self.dirs_only and self.regex.fullmatch(relative) is not None

    def match_folder(self, relative: str) -> bool:
        """Whether the glob matches the folder ``relative`` itself (and so all it holds)."""
        return self.regex.fullmatch(relative) is not None


def compile_glob(text: str) -> Glob:
    """Compile one ``--include``/``--exclude`` glob; :class:`GlobError` if it is malformed."""
    glob = text
    dirs_only = glob.endswith("/") and glob != "/"
    glob = glob.rstrip("/") if dirs_only else glob
    if glob.startswith("./"):
        glob = "/" + glob[2:]
    anchored = "/" in glob
    glob = glob.lstrip("/")
    if not glob:
        raise GlobError(f"the glob {text!r} matches nothing")
    parts = _split(glob)
    pieces: list[str] = []
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        if part == "**":
            # any number of whole folders (a/**/b, **/b), or everything below (a/**)
            pieces.append(".*" if last else "(?:[^/]*/)*")
        else:
            pieces.append(_translate(part) + ("" if last else "/"))
    body = "".join(pieces)
    if not anchored:
        body = "(?:[^/]*/)*" + body
    return Glob(text, re.compile(body, re.DOTALL), dirs_only)


def matches_any(globs: Iterable[Glob], relative: str) -> bool:
    """Whether any of ``globs`` matches ``relative``."""
    return any(g.match(relative) for g in globs)
