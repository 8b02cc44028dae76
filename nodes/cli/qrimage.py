"""The presentation QR as an image: the smallest byte-mode symbol, as PNG, SVG or terminal text."""

# Error correction M (about 15% of the symbol recoverable) by default: the code is shown on a
# phone screen and read by a window's camera, so damage is rare but glare, moiré and a thumb over
# a corner are not. A driving-licence presentation disclosing the holder's name is about 1.4 kB:
# version 27 at L (7% recoverable), 31 at M, 37 at Q, and too long for H; M costs 16 modules a
# side over L, while Q makes modules too small to read off a phone. segno may still raise the
# level when the chosen version has room to spare (boost_error), never the version.

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import segno

from federation.errors import InvalidArgument

QR_ERROR = "M"
QR_ERROR_LEVELS = ("L", "M", "Q", "H")
PNG_SCALE = 4
"""Pixels per module: a version-31 symbol with its quiet zone is 596 px, sharp when scaled."""
BORDER = 4
"""The quiet zone ISO/IEC 18004 asks for, in modules."""


def presentation_symbol(text: str, error: str = QR_ERROR) -> segno.QRCode:
    """The smallest QR symbol holding `text` in byte mode at error level `error` (or better)."""
    level = error.upper()
    if level not in QR_ERROR_LEVELS:
        raise InvalidArgument(f"QR error correction level must be L, M, Q or H, got {error!r}")
    data = text.encode("utf-8")
    try:
        return segno.make_qr(data, error=level, mode="byte", boost_error=True)
    except segno.DataOverflowError:
        raise InvalidArgument(
            f"a {len(data)}-byte presentation does not fit one QR code at level {level}: "
            "disclose fewer fields or choose a lower level"
        ) from None


def describe(symbol: segno.QRCode) -> dict[str, Any]:
    """What a person or a test wants to know about a symbol."""
    modules = symbol.symbol_size(scale=1, border=0)[0]
    return {
        "version": symbol.version,
        "error": symbol.error,
        "mode": symbol.mode,
        "modules": modules,
    }


def write_png(symbol: segno.QRCode, path: Path, scale: int = PNG_SCALE) -> None:
    symbol.save(str(path), kind="png", scale=scale, border=BORDER)


def write_svg(symbol: segno.QRCode, path: Path) -> None:
    # unit-free size in modules, scaled by the viewer; a title says what the code holds
    symbol.save(str(path), kind="svg", border=BORDER, title="yrd licence presentation (YRD1:)")


def write_terminal(symbol: segno.QRCode, out: TextIO) -> None:
    """Two module rows per line (Unicode half blocks, light modules drawn, for dark terminals);
    a version-31 code needs 149 columns and 75 lines."""
    symbol.terminal(out=out, border=BORDER, compact=True)


__all__ = [
    "BORDER",
    "PNG_SCALE",
    "QR_ERROR",
    "QR_ERROR_LEVELS",
    "describe",
    "presentation_symbol",
    "write_png",
    "write_svg",
    "write_terminal",
]
