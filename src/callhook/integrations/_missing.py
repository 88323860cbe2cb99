"""The error an adapter raises when its framework is not installed."""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(framework: str, extra: str, exc: ImportError) -> ImportError:
    """An ``ImportError`` naming the install command of ``extra``."""
    error = ImportError(
        f"callhook.integrations.{extra} needs {framework}, which is not installed "
        f"({exc.name or exc}). Install it with: pip install 'callhook[{extra}]'"
    )
    error.name = exc.name
    return error
