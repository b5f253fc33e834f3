"""Text that came from outside (a request, a feed), made safe to write back out.

Two dangers, two functions:
- a lone surrogate (JSON's `\\ud800` decodes to one) is not Unicode text: it has no UTF-8
  encoding, so orjson refuses to write it, database drivers cannot send it, and many clients
  refuse to read it back (`writable_text`);
- a control character (C0, C1) is text, but PostgreSQL cannot store NUL and XML 1.0 allows
  none but tab, newline and carriage return: one in a model id would make the change feed's
  Atom document invalid for every reader (`escaped_text`, `UNSTORABLE`).
Each is written as its `\\uXXXX` escape, so what was sent can still be read.
"""

from __future__ import annotations

import re

# Control characters and lone surrogates: what no stored or served id may hold.
UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def escaped_text(text: str) -> str:
    """`text` with each control character and lone surrogate as its `\\uXXXX` escape."""
    return UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def writable_text(text: str) -> str:
    """`text` with any lone surrogate as its backslash escape: valid UTF-8 to write. Cheaper
    than escaped_text for ASCII, which most error texts are."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")
