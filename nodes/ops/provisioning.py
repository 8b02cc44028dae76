"""Federation material: root CA, node certificates, signing keys, signed trust list, configs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from federation.crypto.jose import SUITES, Jwk, SigningKey
from federation.crypto.pki import (
    cert_to_pem,
    create_root_ca,
    fingerprint_sha256,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
)
from federation.crypto.pki import write_private_key as _write_private_key
from federation.crypto.pki import write_public as _write_public
from federation.errors import FailedPrecondition, InvalidArgument
from federation.identity.tokens import MAX_TTL_S
from federation.regions import PROVINCES, Region, parse_region
from federation.trust.trustlist import (
    Member,
    TrustList,
    rotate_member_key,
    sign_trust_list,
    verify_trust_list,
)
from nodes.config import render_config
from nodes.ops.ports import free_port
from nodes.servicers.authorities import provision_authorities

TRUST_LIST_LIFETIME_S = 7 * 24 * 3600
OPERATOR_ENTITY = "yrd:operator:100000"
DEFAULT_BASE_PORT = 50051
PUBLIC_PORT_OFFSET = 10  # regions' public HTTPS ports follow the gRPC ports: 50061..50064
DEFAULT_SUITE = "ed25519"
METRICS_PORT_OFFSET = 20  # every node's /metrics endpoint: 50071 (hub), 50072..50075 (regions)


@dataclass(frozen=True)
class Layout:
    """Where everything lives inside a federation directory."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca" / "root.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca" / "root.key"

    @property
    def anchor_key(self) -> Path:
        return self.root / "anchor" / "trust-anchor.key"

    @property
    def anchor_jwk(self) -> Path:
        return self.root / "anchor" / "trust-anchor.jwk.json"

    @property
    def trust_source(self) -> Path:
        return self.root / "trustlist.json"

    @property
    def trust_signed(self) -> Path:
        return self.root / "trustlist.jwt"

    def node_dir(self, region: Region) -> Path:
        return self.root / region.short.lower()

    def config(self, region: Region) -> Path:
        return self.root / f"{region.short.lower()}.toml"

    def signing_dir(self, region: Region) -> Path:
        return self.node_dir(region) / "signing"

    def sealcert_dir(self, region: Region) -> Path:
        return self.node_dir(region) / "sealcert"

    @property
    def operator_dir(self) -> Path:
        return self.root / "operator"


def write_private_key(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private_key(path, pem)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_public(path, data)


def parse_suites(specs: Iterable[str]) -> dict[Region, str]:
    """Each member's signing suite from `--suite` values, later ones winning.

    `sm2` (or `ed25519`) alone sets every member, hub included; `320000=sm2` (a code or short
    name: `JS=sm2`) sets one. Members not named keep `ed25519`.
    """
    suites = dict.fromkeys(Region, DEFAULT_SUITE)
    for spec in specs:
        who, sep, suite = spec.strip().rpartition("=")
        suite = suite.strip().lower()
        if suite not in SUITES:
            raise InvalidArgument(
                f"unknown signing suite {suite!r} in --suite {spec!r}; use {' or '.join(SUITES)}"
            )
        if not sep:
            suites = dict.fromkeys(Region, suite)
        else:
            suites[parse_region(who)] = suite
    return suites


def suite_of(alg: str) -> str:
    """The suite name (ed25519, sm2) of a member key's JWS algorithm."""
    for suite, suite_alg in SUITES.items():
        if suite_alg == alg:
            return suite
    raise InvalidArgument(f"{alg} is not a member signing suite; use {' or '.join(SUITES)}")


def _write_signing_key(directory: Path, suite: str = DEFAULT_SUITE) -> Jwk:
    key = SigningKey.for_suite(suite)
    directory.mkdir(parents=True, exist_ok=True)
    write_private_key(directory / f"{key.kid}.key", key.to_pem())
    return key.jwk


def write_trust_list(layout: Layout, trust_list: TrustList) -> str:
    anchor = SigningKey.from_pem(layout.anchor_key.read_bytes())
    signed = sign_trust_list(trust_list, anchor)
    write_public(layout.trust_source, json.dumps(trust_list.to_dict(), indent=2).encode())
    write_public(layout.trust_signed, signed.encode())
    return signed


def load_anchor(layout: Layout) -> Jwk:
    return Jwk.from_dict(json.loads(layout.anchor_jwk.read_text()))


def read_trust_list(layout: Layout, now: float | None = None) -> TrustList:
    """The current signed list of a federation directory, verified against its anchor."""
    if not layout.trust_signed.exists():
        raise InvalidArgument(
            f"{layout.root} holds no federation; create one with `yrd federation init --dir DIR`"
        )
    return verify_trust_list(
        layout.trust_signed.read_text().strip(), load_anchor(layout), now or time.time()
    )


def init_federation(
    directory: Path,
    *,
    base_port: int = DEFAULT_BASE_PORT,
    store: str = "sqlite",
    postgres_url: str = "",
    password_cost_log2: int = 14,
    face_daily_limit: int = 10_000,
    trust_list_refresh_s: float = 30.0,
    revocation_poll_s: float = 2.0,
    status_list_ttl_s: int = 300,
    force: bool = False,
    suites: Mapping[Region, str] | None = None,
    metrics: bool = True,
    access_log: bool = True,
    traces: bool = False,
) -> TrustList:
    """Create hub and the four regions' material; `base_port=0` picks free ports.

    `suites` chooses each member's signing suite (`parse_suites`; ed25519 when not named): its
    token/status-list keys, its seal-certifying key and its authorities' seal keys, and for the
    hub also the trust anchor. mTLS certificates stay P-256 whatever the suite.

    Every node serves Prometheus metrics (on base_port + METRICS_PORT_OFFSET + i, unless
    `metrics` is False) and writes a JSON access log to `<node dir>/access.log` (unless
    `access_log` is False); with `traces` each node writes its finished spans to
    `<node dir>/spans.jsonl`.
    """
    chosen = {**dict.fromkeys(Region, DEFAULT_SUITE), **(suites or {})}
    for region, suite in chosen.items():
        if suite not in SUITES:
            raise InvalidArgument(f"unknown signing suite {suite!r} for {region.short}")
    layout = Layout(directory.resolve())
    if layout.trust_signed.exists() and not force:
        raise FailedPrecondition(
            f"{directory} already holds a federation; use --force to overwrite it"
        )
    if store not in ("sqlite", "postgresql"):
        raise InvalidArgument("store must be 'sqlite' or 'postgresql'")
    if store == "postgresql" and not postgres_url.startswith(("postgresql://", "postgres://")):
        raise InvalidArgument("--postgres-url must be a postgresql:// URL")
    if force:
        from nodes.ops.federation_dir import clear_for_reinit

        clear_for_reinit(layout)  # old stores, caches and keys would not match the new root
    layout.root.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = create_root_ca()
    write_private_key(layout.ca_key, key_to_pem(ca_key))
    write_public(layout.ca_cert, cert_to_pem(ca_cert))
    anchor = SigningKey.for_suite(chosen[Region.HUB])
    write_private_key(layout.anchor_key, anchor.to_pem())
    write_public(layout.anchor_jwk, json.dumps(anchor.jwk.to_dict(), indent=2).encode())

    # with base_port=0 every port of the federation is drawn apart from the others: none of
    # them is bound before the nodes start, so the kernel alone would not keep them distinct
    drawn: list[int] = []

    def port(offset: int) -> int:
        if base_port != 0:
            return base_port + offset
        drawn.append(free_port(avoid=drawn))
        return drawn[-1]

    ports = {r: port(i) for i, r in enumerate(Region)}
    # regions also answer verifiers outside the federation over plain HTTPS, on their own port
    public_ports = {r: port(PUBLIC_PORT_OFFSET + i) for i, r in enumerate(PROVINCES)}
    metrics_ports: dict[Region, int | None] = {
        r: port(METRICS_PORT_OFFSET + i) if metrics else None for i, r in enumerate(Region)
    }
    members: list[Member] = []
    for region in Region:
        node = layout.node_dir(region)
        key, cert = issue_node_certificate(ca_key, ca_cert, region.entity_id, region.code)
        write_private_key(node / "tls.key", key_to_pem(key))
        write_public(node / "tls.crt", cert_to_pem(cert))
        keys = (_write_signing_key(layout.signing_dir(region), chosen[region]),)
        # a long-lived key that certifies issuing authorities' seals, listed apart from the
        # token keys (its purpose is the list it is in, not a JWK member): token keys rotate
        # without touching it, so sealed licences stay verifiable
        seal_keys = (
            (_write_signing_key(layout.sealcert_dir(region), chosen[region]),)
            if region.is_province
            else ()
        )
        members.append(
            Member(
                entity_id=region.entity_id,
                region_code=region.code,
                name=region.label,
                roles=("hub",) if region is Region.HUB else ("region",),
                endpoint=f"127.0.0.1:{ports[region]}",
                tls_fingerprints=(fingerprint_sha256(cert),),
                signing_keys=keys,
                seal_keys=seal_keys,
                public_url=(
                    f"https://127.0.0.1:{public_ports[region]}" if region in public_ports else ""
                ),
            )
        )
    op_key, op_cert = issue_node_certificate(
        ca_key, ca_cert, OPERATOR_ENTITY, Region.HUB.code, server=False
    )
    write_private_key(layout.operator_dir / "tls.key", key_to_pem(op_key))
    write_public(layout.operator_dir / "tls.crt", cert_to_pem(op_cert))
    members.append(
        Member(
            entity_id=OPERATOR_ENTITY,
            region_code=Region.HUB.code,
            name="Federation operator console",
            roles=("operator",),
            endpoint="",
            tls_fingerprints=(fingerprint_sha256(op_cert),),
        )
    )
    now = int(time.time())
    trust_list = TrustList(
        version=1,
        issued_at=now,
        expires_at=now + TRUST_LIST_LIFETIME_S,
        root_ca_fingerprint=fingerprint_sha256(ca_cert),
        members=tuple(members),
    )
    write_trust_list(layout, trust_list)
    for region in PROVINCES:
        certifier = load_active_signing_key(
            layout.sealcert_dir(region), trust_list.member(region.entity_id).seal_keys
        )
        provision_authorities(
            layout.node_dir(region),
            region,
            certifier,
            now,
            root=(ca_key, ca_cert),
            public_url=trust_list.member(region.entity_id).public_url,
        )
    for region in Region:
        _write_node_config(
            layout,
            region,
            ports,
            public_ports,
            metrics_ports[region],
            (access_log, traces),
            store,
            postgres_url,
            password_cost_log2,
            face_daily_limit,
            trust_list_refresh_s,
            revocation_poll_s,
            status_list_ttl_s,
        )
    return trust_list


def _store_url(layout: Layout, region: Region, store: str, postgres_url: str) -> str:
    if store == "sqlite":
        # {dir} is the federation directory, filled in when the config is loaded
        return f"sqlite:///{{dir}}/{region.short.lower()}/node.sqlite3"
    # one schema per node in a shared database; a schema=X in the URL becomes the prefix
    parts = urlsplit(postgres_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    prefix = dict(parse_qsl(parts.query)).get("schema", "yrd")
    query.append(("schema", f"{prefix}_{region.short.lower()}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _write_node_config(
    layout: Layout,
    region: Region,
    ports: dict[Region, int],
    public_ports: dict[Region, int],
    metrics_port: int | None,
    logs: tuple[bool, bool],
    store: str,
    postgres_url: str,
    password_cost_log2: int,
    face_daily_limit: int,
    trust_list_refresh_s: float,
    revocation_poll_s: float,
    status_list_ttl_s: int,
) -> None:
    name = region.short.lower()
    values: dict[str, Any] = {
        "region": region.code,
        "entity_id": region.entity_id,
        "host": "127.0.0.1",
        "port": ports[region],
        **({"public_port": public_ports[region]} if region in public_ports else {}),
        "hub_endpoint": f"127.0.0.1:{ports[Region.HUB]}",
        "store_url": _store_url(layout, region, store, postgres_url),
        "ca_cert": "ca/root.crt",
        "tls_cert": f"{name}/tls.crt",
        "tls_key": f"{name}/tls.key",
        "anchor_jwk": "anchor/trust-anchor.jwk.json",
        "signing_keys_dir": f"{name}/signing",
        "node_dir": name,
        "trust_list_cache": f"{name}/trustlist-cache.jwt",
        "trust_list_refresh_s": trust_list_refresh_s,
        "revocation_poll_s": revocation_poll_s,
        "password_cost_log2": password_cost_log2,
        "status_list_ttl_s": status_list_ttl_s,
        # observability: bind metrics to an internal interface only (it has no auth)
        **({"metrics_port": metrics_port} if metrics_port is not None else {}),
        **({"access_log": f"{name}/access.log"} if logs[0] else {}),
        **({"trace_export": f"file:{name}/spans.jsonl"} if logs[1] else {}),
    }
    quotas = None
    if region is Region.HUB:
        values["trust_list_source"] = "trustlist.json"
        values["trust_list_signed"] = "trustlist.jwt"
        values["anchor_key"] = "anchor/trust-anchor.key"
        quotas = {
            r.code: {"daily_limit": face_daily_limit, "rate_per_s": 50.0, "burst": 100}
            for r in Region
            if r.is_province
        }
    write_public(layout.config(region), render_config(values, quotas).encode())


def rotate_keys(
    directory: Path, region: Region, now: float | None = None, suite: str | None = None
) -> tuple[Jwk, TrustList]:
    """Add a new signing key for `region`; old keys stay listed until tokens they signed expire.

    The new key keeps the suite of the region's newest key unless `suite` names another (a
    region moving to SM2, or back, rotates; tokens signed before verify until they expire).
    """
    layout = Layout(directory.resolve())
    current = read_trust_list(layout)
    stamp = now or time.time()
    member = current.member(region.entity_id)
    if suite is None:
        suite = suite_of(member.signing_keys[0].alg) if member.signing_keys else DEFAULT_SUITE
    new_jwk = _write_signing_key(layout.signing_dir(region), suite)
    # A token lives at most MAX_TTL_S; keep the old key a little longer for clock skew.
    rotated = rotate_member_key(member, new_jwk, int(stamp) + MAX_TTL_S + 300, stamp)
    updated = replace(
        current.with_member(rotated),
        version=current.version + 1,
        issued_at=int(stamp),
        expires_at=int(stamp) + TRUST_LIST_LIFETIME_S,
    )
    # keep the member order stable
    order = [m.entity_id for m in current.members]
    updated = replace(
        updated, members=tuple(sorted(updated.members, key=lambda m: order.index(m.entity_id)))
    )
    write_trust_list(layout, updated)
    return new_jwk, updated


def load_active_signing_key(directory: Path, listed: tuple[Jwk, ...]) -> SigningKey:
    """The newest of `listed` (a member's signing or seal keys) whose private half we hold."""
    for jwk in listed:
        if jwk.not_after is not None:
            continue
        path = directory / f"{jwk.kid}.key"
        if path.exists():
            return SigningKey.from_pem(path.read_bytes())
    raise FailedPrecondition(
        f"none of the keys the trust list names is in {directory}; run `yrd federation init`"
    )


def ca_fingerprint(layout: Layout) -> str:
    return fingerprint_sha256(load_cert_pem(layout.ca_cert.read_bytes()))
