"""The presentation QR as an image: smallest byte-mode version, PNG, SVG and terminal drawings
that hold exactly segno's module matrix, and `yrd licence present --qr-*` end to end."""

from __future__ import annotations

import io
import json
import string
import struct
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
import segno
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.crypto.pki import write_private_key
from federation.errors import InvalidArgument
from federation.licences import decode_qr
from nodes.cli import qrimage, root
from tests._support.licences import make_world

# ISO/IEC 18004 Table 7: byte-mode capacity (bytes) at error level M, versions 1..40.
M_BYTES = [
    14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624,
    666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809,
    1911, 1989, 2099, 2213, 2331,
]  # fmt: skip
B64URL = string.ascii_letters + string.digits + "-_"


def minimal_version(length: int) -> int:
    return next(v for v, cap in enumerate(M_BYTES, start=1) if length <= cap)


def matrix(symbol: segno.QRCode) -> list[list[bool]]:
    """Modules with the quiet zone, True where dark."""
    return [[bool(m) for m in row] for row in symbol.matrix_iter(scale=1, border=qrimage.BORDER)]


def png_pixels(data: bytes) -> list[list[bool]]:
    """A 1-bit greyscale PNG as rows of dark pixels, checking signature, CRCs and IHDR."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = 1 + (width + 7) // 8
    assert len(raw) == height * stride
    rows, prior = [], bytes(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for x, byte in enumerate(line):  # undo the row filter (1 byte per pixel group)
            left, up = line[x - 1] if x else 0, prior[x]
            upper_left = prior[x - 1] if x else 0
            predictor = [0, left, up, (left + up) // 2, _paeth(left, up, upper_left)][kind]
            line[x] = (byte + predictor) & 0xFF
        prior = bytes(line)
        bits = "".join(f"{b:08b}" for b in line)[:width]
        rows.append([bit == "0" for bit in bits])  # 0 is black in greyscale
    return rows


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def terminal_modules(text: str) -> list[list[bool]]:
    """segno's compact drawing: light modules are blocks (for dark terminals), two rows a line."""
    halves = {" ": (True, True), "█": (False, False), "▀": (False, True), "▄": (True, False)}
    rows: list[list[bool]] = []
    for line in text.splitlines():
        pairs = [halves[c] for c in line]
        rows += [[top for top, _ in pairs], [bottom for _, bottom in pairs]]
    return rows


def test_capacity_table_agrees_with_segno() -> None:
    for version, cap in enumerate(M_BYTES, start=1):
        assert qrimage.presentation_symbol("x" * cap).version == version
        with pytest.raises(segno.DataOverflowError):
            segno.make_qr(b"x" * (cap + 1), error="M", mode="byte", version=version)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=B64URL, max_size=M_BYTES[-1] - 5))
def test_the_chosen_version_is_the_smallest_byte_mode_allows(body: str) -> None:
    text = "YRD1:" + body
    symbol = qrimage.presentation_symbol(text)
    assert symbol.mode == "byte"
    assert symbol.version == minimal_version(len(text))
    assert symbol.error in ("M", "Q", "H")  # boosted only where the version has room


def test_levels_and_overflow() -> None:
    text = "YRD1:" + "A" * 1000
    versions = [qrimage.presentation_symbol(text, level).version for level in "LMQH"]
    assert versions == sorted(versions) and versions[0] < versions[-1]
    with pytest.raises(InvalidArgument, match="level"):
        qrimage.presentation_symbol(text, "X")
    with pytest.raises(InvalidArgument, match="3006-byte presentation does not fit"):
        qrimage.presentation_symbol("YRD1:" + "A" * 3001, "L")


def test_png_svg_and_terminal_hold_the_symbol(tmp_path: Path) -> None:
    symbol = qrimage.presentation_symbol("YRD1:" + "Q" * 300)
    expected = matrix(symbol)
    size = len(expected)
    qrimage.write_png(symbol, tmp_path / "p.png")
    pixels = png_pixels((tmp_path / "p.png").read_bytes())
    scale = qrimage.PNG_SCALE
    assert len(pixels) == size * scale
    assert [row[::scale] for row in pixels[::scale]] == expected
    qrimage.write_svg(symbol, tmp_path / "p.svg")
    svg = ET.parse(tmp_path / "p.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert (svg.get("width"), svg.get("height")) == (str(size), str(size))
    out = io.StringIO()
    qrimage.write_terminal(symbol, out)
    assert terminal_modules(out.getvalue())[:size] == expected


def test_licence_present_draws_the_presentation(tmp_path: Path) -> None:
    world = make_world()
    licence = tmp_path / "licence.txt"
    licence.write_text(world.seal(world.driving_licence()), encoding="utf-8")
    wallet = tmp_path / "wallet.pem"
    write_private_key(wallet, world.holder_key.to_pem())
    png, svg = tmp_path / "qr.png", tmp_path / "qr.svg"
    result = CliRunner().invoke(
        root,
        [
            "licence",
            "present",
            "--licence",
            str(licence),
            "--wallet",
            str(wallet),
            "--disclose",
            "holder_name",
            "--audience",
            "SH",
            "--qr-png",
            str(png),
            "--qr-svg",
            str(svg),
            "--qr-terminal",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    presentation = out["presentation"]
    assert decode_qr(presentation)  # a real YRD1: presentation
    symbol = qrimage.presentation_symbol(presentation)
    assert out["qr"]["version"] == symbol.version == minimal_version(len(presentation))
    assert out["qr"]["mode"] == "byte" and out["qr"]["png"] == str(png)
    assert [
        r[:: qrimage.PNG_SCALE] for r in png_pixels(png.read_bytes())[:: qrimage.PNG_SCALE]
    ] == (matrix(symbol))
    assert ET.parse(svg).getroot().tag.endswith("svg")
    drawn = terminal_modules(result.stderr)[: len(matrix(symbol))]
    assert drawn == matrix(symbol)
    plain = CliRunner().invoke(
        root,
        [
            "licence",
            "present",
            "--licence",
            str(licence),
            "--wallet",
            str(wallet),
            "--disclose",
            "holder_name",
            "--audience",
            "SH",
        ],
    )
    assert plain.exit_code == 0 and "qr" not in json.loads(plain.stdout)
