"""Writing files so that a failed run leaves no partial output.

Imports nothing of photoncal, like :mod:`photoncal.config`: every layer may
use it.
"""

from __future__ import annotations

import os
import uuid

__all__ = ["atomic_write", "atomic_write_text"]


def atomic_write(path, writer, *, error=OSError) -> str:
    """Call ``writer(temporary_path)``, then rename the temporary file onto ``path``.

    The temporary file lies in the target's directory (a rename there is
    atomic) under a hidden name; it is removed if ``writer`` fails.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    writer : callable
        ``writer(temporary_path)`` writes the whole file.
    error : type
        Exception class raised when the target directory does not exist.

    Returns
    -------
    str
        ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise error(f"cannot write {path}: directory {directory} does not exist")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path, text: str, *, error=OSError) -> str:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_write`; return ``path``."""

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as stream:
            stream.write(text)

    return atomic_write(path, write, error=error)
