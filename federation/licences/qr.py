"""QR-sized transport of an SD-JWT: base64url segments packed as bytes, deflated, `YRD1:` prefix."""

# Each `~`-part is a JWS (three base64url segments) or a disclosure (one); storing the decoded
# bytes lets DEFLATE see the JSON inside instead of base64 noise. A JWS header is rebuilt as
# canonical JSON: the seal certificate nested in it is packed as a JWS of its own, and a `kid`
# that is the thumbprint of a key met earlier (seal key in the certificate, holder key in `cnf`)
# becomes a back-reference. The preset dictionary holds the JSON every sealed licence repeats.

from __future__ import annotations

import json
import zlib
from typing import Any

from federation.crypto.jose import Jwk, b64url_decode, b64url_encode, canonical_json
from federation.errors import InvalidArgument

QR_PREFIX = "YRD1:"
MAX_PACKED_BYTES = 48 * 1024
_FORMAT = 1
_KIND_PLAIN = 0
_KIND_JWS = 1
_NESTED = "sealcert"

# Frozen with format 1: both ends must hold the same bytes, so a changed dictionary needs a new
# prefix (YRD2:), never an edit here. Most frequent material last (shortest match distances).
_DICTIONARY = "".join(
    (
        '"111000000000143498001""居民身份证""111000000000143498002""居住证"',
        '"111000000000143498003""机动车驾驶证""111000000000143498004""机动车行驶证"',
        '"111000000000143498005""居民户口簿""11100000MB0149294B001""营业执照"',
        '"11100000MB0149294B002""食品经营许可证""11100000000013186G001""结婚证"',
        '"11100000MB01473528001""出生医学证明""11100000717829553F001""社会保障卡"',
        '"11100000717829553F002""养老保险参保缴费凭证"',
        '"上海市""江苏省""浙江省""安徽省""公安厅""公安局""交通警察支队""市场监督管理局"',
        '"民政局""卫生健康委员会""人力资源和社会保障局""https://"',
        '"yrd:sh:310000""yrd:ah:340000""yrd:zj:330000""yrd:js:320000"',
        '"sex""ethnicity""nationality""address""first_issue_date""vehicle_class""file_number"',
        '"plate_number""entity_type""legal_representative""registered_capital""domicile"',
        '{"alg":"EdDSA","kid":"","typ":"dc+sd-jwt"}{"alg":"EdDSA","kid":"","typ":"seal-cert+jwt"}',
        '{"cnf":{"jwk":{"crv":"Ed25519","kty":"OKP","x":""}},"exp":18,"iat":17,',
        '"iss":"yrd:js:320000","name":"","region":"320000","sub":"1132"}',
        '{"_sd":["","","","","",""],"_sd_alg":"sha-256","cnf":{"jwk":{"crv":"Ed25519","kty":"OKP",',
        '"x":""}},"holder_code_type":"citizen_id","iat":17,"id":"1.2.156.3005.2.1110000000",',
        '"iss":"1132","iss_name":"","issue_date":"202","licence_name":"","region":"320000",',
        '"status":{"status_list":{"idx":,"uri":"https://"}},"valid_from":"202","valid_until":"20",',
        '"vct":"11100000"}["","holder_name",""]["","holder_code",""]["","number",""]',
        '{"alg":"EdDSA","kid":"","typ":"kb+jwt"}{"aud":"yrd:zj:330000","iat":17,"nonce":"","sd_hash":""}',
    )
).encode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _segment(segment: str) -> bytes:
    raw = b64url_decode(segment) if segment else b""
    if b64url_encode(raw) != segment:
        raise InvalidArgument("SD-JWT segment is not canonical base64url")
    return raw


def _field(raw: bytes) -> bytes:
    return _varint(len(raw)) + raw


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _cnf_thumbprint(payload: bytes) -> str | None:
    """The thumbprint of a JWT payload's `cnf.jwk`: later headers name that key by it.

    An Ed25519 key's is the thumbprint of its `x` as in format 1's first version; a P-256
    key's covers `x` and `y`. Packer and unpacker compute it from the same bytes alike.
    """
    claims = _json_object(payload)
    cnf = claims.get("cnf") if claims else None
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict) or not isinstance(jwk.get("x"), str):
        return None
    if jwk.get("kty") == "EC":
        try:
            return Jwk.from_dict(jwk).jkt
        except InvalidArgument:
            return None
    return Jwk.thumbprint(jwk["x"])


class _Packer:
    def __init__(self) -> None:
        self.thumbprints: list[str] = []

    def part(self, part: str) -> bytes:
        segments = part.split(".")
        packed = self._jws(segments) if len(segments) == 3 else None
        if packed is not None:
            return packed
        return (
            bytes([_KIND_PLAIN])
            + _varint(len(segments))
            + b"".join(_field(_segment(s)) for s in segments)
        )

    def _jws(self, segments: list[str]) -> bytes | None:
        header_bytes = _segment(segments[0])
        header = _json_object(header_bytes)
        if header is None or canonical_json(header) != header_bytes:
            return None  # could not be rebuilt byte for byte: keep it opaque
        nested = b""
        if isinstance(header.get(_NESTED), str):
            inner = self.part(header.pop(_NESTED))
            nested = inner if inner[0] == _KIND_JWS else b""
            if not nested:
                return None
        kid_ref = 0
        if header.get("kid") in self.thumbprints:
            kid_ref = self.thumbprints.index(header.pop("kid")) + 1
        payload = _segment(segments[1])
        thumbprint = _cnf_thumbprint(payload)
        if thumbprint is not None:
            self.thumbprints.append(thumbprint)
        return (
            bytes([_KIND_JWS, 1 if nested else 0])
            + _varint(kid_ref)
            + nested
            + _field(canonical_json(header))
            + _field(payload)
            + _field(_segment(segments[2]))
        )


class _Unpacker:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.thumbprints: list[str] = []

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
            if shift > 28:
                raise InvalidArgument("QR payload holds an oversized number")

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise InvalidArgument("QR payload is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def field(self) -> bytes:
        length = self.varint()
        if self.pos + length > len(self.data):
            raise InvalidArgument("QR payload is truncated")
        self.pos += length
        return self.data[self.pos - length : self.pos]

    def part(self, depth: int = 0) -> str:
        kind = self.byte()
        if kind == _KIND_PLAIN:
            return ".".join(b64url_encode(self.field()) for _ in range(self.varint()))
        if kind != _KIND_JWS or depth > 1:
            raise InvalidArgument(f"QR payload holds an unknown part (kind {kind})")
        has_nested, kid_ref = self.byte(), self.varint()
        nested = self.part(depth + 1) if has_nested else None
        header = _json_object(self.field())
        if header is None:
            raise InvalidArgument("QR payload holds a malformed JWS header")
        if nested is not None:
            header[_NESTED] = nested
        if kid_ref:
            if kid_ref > len(self.thumbprints):
                raise InvalidArgument("QR payload refers to a key it does not hold")
            header["kid"] = self.thumbprints[kid_ref - 1]
        payload, signature = self.field(), self.field()
        thumbprint = _cnf_thumbprint(payload)
        if thumbprint is not None:
            self.thumbprints.append(thumbprint)
        return ".".join(b64url_encode(p) for p in (canonical_json(header), payload, signature))


def _pack(text: str) -> bytes:
    parts = text.split("~")
    packer = _Packer()
    return bytes([_FORMAT]) + _varint(len(parts)) + b"".join(packer.part(p) for p in parts)


def _unpack(data: bytes) -> str:
    reader = _Unpacker(data)
    if reader.byte() != _FORMAT:
        raise InvalidArgument("unknown QR payload format")
    parts = [reader.part() for _ in range(reader.varint())]
    if reader.pos != len(data):
        raise InvalidArgument("QR payload has trailing bytes")
    return "~".join(parts)


def encode_qr(sd_jwt: str) -> str:
    """Compact, lossless transport form of a presentation (or full licence) for a QR code."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY)
    packed = deflater.compress(_pack(sd_jwt)) + deflater.flush()
    return QR_PREFIX + b64url_encode(packed)


def is_qr(text: str) -> bool:
    return isinstance(text, str) and text.startswith(QR_PREFIX)


def decode_qr(text: str) -> str:
    """Inverse of `encode_qr`; InvalidArgument on anything else."""
    if not is_qr(text):
        raise InvalidArgument(f"a QR presentation starts with {QR_PREFIX!r}")
    inflater = zlib.decompressobj(-15, _DICTIONARY)
    try:
        data = inflater.decompress(b64url_decode(text[len(QR_PREFIX) :]), MAX_PACKED_BYTES)
    except zlib.error as exc:
        raise InvalidArgument(f"QR payload does not inflate: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise InvalidArgument("QR payload is truncated or larger than allowed")
    return _unpack(data)


__all__ = ["MAX_PACKED_BYTES", "QR_PREFIX", "decode_qr", "encode_qr", "is_qr"]
