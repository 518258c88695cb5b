"""Locate the data folders (boards, models, systemd) in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """Return the folder holding the project's ``boards``, ``models`` or ``systemd`` data.

    A checkout (or editable install) uses the top-level folder; a wheel install carries the same
    files as the package ``edge.<name>``.
    """
    in_checkout = _CHECKOUT_ROOT / name
    if (_CHECKOUT_ROOT / "pyproject.toml").is_file() and in_checkout.is_dir():
        return in_checkout
    # Not importlib.resources.files(): these folders have no __init__.py, and for such a namespace package
    # it returns a MultiplexedPath whose str() is no path at all (every wheel install lost its boards).
    return Path(__file__).resolve().parent / name
