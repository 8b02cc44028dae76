"""`yrd federation reissue-tls`: new TLS certificates from a directory's own CA, stores untouched.

Certificates issued before node certificates named their entity (`entity_dns_name`) make a node
refuse to start; `init --force` would fix that by replacing the whole federation, stores
included. This re-issues only the mTLS certificates: every member's node certificate (and the
operator's) from the directory's existing CA key, then a new trust-list version listing the new
fingerprints, signed with the directory's anchor key. The CA, the anchor, the signing and seal
keys, the authorities, the configs and every store stay as they are.

Choices, as a careful operator would want them:

- A fresh P-256 key for every certificate, not the old one: re-issuing is the moment to rotate
  it (a key that may have been copied with an old backup stops being useful), and it costs
  nothing, as the trust list pins certificates (their fingerprint), not keys. The key is written
  before the certificate, each file atomically; restart a node once the command has returned.
- Each certificate keeps the host names and addresses (DNS and IP SANs) of the certificate it
  replaces, so clients that dial a node by host name still reach it; the entity's DNS name and
  URI are issued anew. A certificate that cannot be read gets `localhost` and `127.0.0.1`, as
  `init` gives (the report says which).
- By default the outgoing certificate's fingerprint stays listed next to the new one (only the
  outgoing one: older ones drop off), so during a rolling restart a node still presenting its
  old certificate is admitted by peers that already hold the new list; `keep_old=False` lists the
  new certificates only (every node stopped, as in the upgrade to member-named certificates, or
  an old key that must stop working at once). Once every node has restarted,
  `retire_old_tls` (`yrd federation retire-old-tls`) unlists it, after checking no running node
  still presents it; the next re-issue drops it too.
- The trust list is written before the certificates: a run cut short leaves nodes with
  certificates the list still names (with `keep_old`), and running it again completes it.

Running nodes keep serving: the hub re-reads the list when the file changes and the regions
fetch it from the hub within `trust_list_refresh_s`; each node presents its new certificate once
restarted (the hub first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.clock import FixedClock
from federation.crypto.jose import parse_compact
from federation.crypto.pki import (
    ENTITY_DNS_SUFFIX,
    TlsPrivateKey,
    cert_to_pem,
    entity_id_of,
    fingerprint_sha256,
    issue_node_certificate,
    key_to_pem,
    load_cert_pem,
    load_private_key_pem,
)
from federation.errors import FailedPrecondition, FederationError, InvalidArgument
from federation.regions import Region, parse_region
from federation.trust.trustlist import Member, TrustList, verify_trust_list
from nodes.config import load_config
from nodes.ops.provisioning import (
    OPERATOR_ENTITY,
    TRUST_LIST_LIFETIME_S,
    Layout,
    load_anchor,
    write_private_key,
    write_public,
    write_trust_list,
)

DEFAULT_DAYS = 825  # as `init` issues them
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
OPERATOR = "operator"  # how `--region` names the operator console's certificate


@dataclass(frozen=True)
class Reissued:
    """One member's new certificate."""

    entity_id: str
    cert_path: Path
    key_path: Path
    fingerprint: str
    kept_fingerprint: str | None  # the outgoing certificate's, still listed (keep_old)
    hosts: tuple[str, ...]
    hosts_from: str  # "certificate" (the replaced one's SANs) or "default"
    not_after: dt.datetime


@dataclass(frozen=True)
class _Plan:
    member: Member
    cert_path: Path
    key_path: Path
    hosts: tuple[str, ...]
    hosts_from: str
    outgoing: str | None  # fingerprint of the certificate on disk, if the list names it


def select_members(names: Collection[str]) -> tuple[str, ...]:
    """Entity ids from `--region` values (codes, short names or `operator`); all when empty."""
    if not names:
        return (*(r.entity_id for r in Region), OPERATOR_ENTITY)
    chosen: list[str] = []
    for name in names:
        entity = OPERATOR_ENTITY if name.strip().lower() == OPERATOR else None
        entity = entity or parse_region(name).entity_id
        if entity not in chosen:
            chosen.append(entity)
    return tuple(chosen)


def reissue_tls(
    directory: Path,
    *,
    members: Collection[str] = (),
    days: int = DEFAULT_DAYS,
    keep_old: bool = True,
    now: float | None = None,
) -> tuple[list[Reissued], TrustList]:
    """Re-issue the TLS certificates of `members` (entity ids; all when empty) in `directory`.

    See the module docstring for what changes and what does not. Refuses (FailedPrecondition)
    a directory without the CA key or the anchor key, or whose CA is not the one the trust list
    names, before writing anything.
    """
    layout = Layout(directory.resolve())
    stamp = time.time() if now is None else now
    current = _read_signed_list(layout, stamp)
    ca_key, ca_cert = _load_ca(layout, current, stamp)
    _require_anchor_key(layout)
    plans = [_plan(layout, current, entity) for entity in (members or select_members(()))]
    issued: list[tuple[_Plan, TlsPrivateKey, x509.Certificate]] = []
    for plan in plans:
        member = plan.member
        key, cert = issue_node_certificate(
            ca_key,
            ca_cert,
            member.entity_id,
            member.region_code,
            hosts=plan.hosts,
            days=days,
            server=OPERATOR not in member.roles,
            clock=FixedClock(stamp),
        )
        issued.append((plan, key, cert))
    updated = current
    for plan, _, cert in issued:
        listed: tuple[str, ...] = (fingerprint_sha256(cert),)
        if keep_old and plan.outgoing is not None:
            listed += (plan.outgoing,)
        updated = _with_fingerprints(updated, plan.member.entity_id, listed)
    updated = replace(
        updated,
        version=current.version + 1,
        issued_at=int(stamp),
        expires_at=int(stamp) + TRUST_LIST_LIFETIME_S,
    )
    write_trust_list(layout, updated)  # first: a run cut short leaves listed certificates
    report = []
    for plan, key, cert in issued:
        write_private_key(plan.key_path, key_to_pem(key))
        write_public(plan.cert_path, cert_to_pem(cert))
        report.append(
            Reissued(
                entity_id=plan.member.entity_id,
                cert_path=plan.cert_path,
                key_path=plan.key_path,
                fingerprint=fingerprint_sha256(cert),
                kept_fingerprint=plan.outgoing if keep_old else None,
                hosts=plan.hosts,
                hosts_from=plan.hosts_from,
                not_after=cert.not_valid_after_utc,
            )
        )
    return report, updated


@dataclass(frozen=True)
class Retired:
    """One member's fingerprints after `retire_old_tls`."""

    entity_id: str
    kept: str  # the fingerprint of its certificate in the directory
    dropped: tuple[str, ...]
    running: tuple[str, ...]  # addresses found presenting `kept` (none: not running)


def retire_old_tls(
    directory: Path, *, members: Collection[str] = (), now: float | None = None
) -> tuple[list[Retired], TrustList]:
    """End a rolling re-issue: list only each member's certificate in the directory.

    Every address a member lists is checked with a TLS handshake first: a node still presenting
    another certificate (not restarted yet) is refused, as unlisting it would lock it out; a node
    that does not answer is not running and will present the directory's certificate when it
    starts (one on another host: copy it there first). A new trust-list version is written only
    when some fingerprint is dropped.
    """
    from nodes.ops.presented import presented_fingerprint

    layout = Layout(directory.resolve())
    stamp = time.time() if now is None else now
    current = _read_signed_list(layout, stamp)
    _require_anchor_key(layout)
    client = (layout.operator_dir / "tls.crt", layout.operator_dir / "tls.key")
    updated, report = current, []
    for entity_id in members or select_members(()):
        member = current.member(entity_id)
        cert_path, _ = _tls_paths(layout, entity_id)
        try:
            kept = fingerprint_sha256(load_cert_pem(cert_path.read_bytes()))
        except (OSError, FederationError) as exc:
            raise FailedPrecondition(f"cannot read {entity_id}'s certificate: {exc}") from None
        if kept not in member.tls_fingerprints:
            raise FailedPrecondition(
                f"{cert_path} is not listed for {entity_id} in the trust list; run"
                f" `yrd federation reissue-tls --dir DIR` to issue and list a certificate"
            )
        running = []
        for address in filter(None, (a.strip() for a in member.endpoint.split(","))):
            presented = presented_fingerprint(address, entity_id, layout.ca_cert, client)
            if presented is None:
                continue
            if presented != kept:
                raise FailedPrecondition(
                    f"{entity_id} at {address} still presents another certificate than"
                    f" {cert_path} (sha256 {presented[:16]}...): restart it (with that"
                    f" certificate) first, or its peers would refuse it; nothing was changed"
                )
            running.append(address)
        dropped = tuple(f for f in member.tls_fingerprints if f != kept)
        updated = _with_fingerprints(updated, entity_id, (kept,))
        report.append(Retired(entity_id, kept, dropped, tuple(running)))
    if not any(r.dropped for r in report):
        return report, current
    updated = replace(
        updated,
        version=current.version + 1,
        issued_at=int(stamp),
        expires_at=int(stamp) + TRUST_LIST_LIFETIME_S,
    )
    write_trust_list(layout, updated)
    return report, updated


def _require_anchor_key(layout: Layout) -> None:
    if not layout.anchor_key.is_file():
        raise FailedPrecondition(
            f"{layout.root} holds no trust-anchor key ({layout.anchor_key}), so it cannot sign"
            f" a new trust list: run this on the hub operator's directory, which holds it"
        )


def _read_signed_list(layout: Layout, now: float) -> TrustList:
    """The directory's signed list, its signature checked against the anchor.

    An expired list is accepted: whoever holds this directory's anchor key re-signs it with a
    fresh lifetime (a federation stopped for longer than the lifetime must be upgradable too).
    """
    if not layout.trust_signed.is_file():
        raise InvalidArgument(
            f"{layout.root} holds no federation; create one with `yrd federation init --dir DIR`"
        )
    token = layout.trust_signed.read_text(encoding="utf-8").strip()
    try:
        expires_at = float(parse_compact(token).payload()["exp"])
    except (KeyError, TypeError, ValueError):
        raise InvalidArgument(f"{layout.trust_signed} is not a signed trust list") from None
    # the signature is what matters here; checked as of a time the list was valid
    return verify_trust_list(token, load_anchor(layout), min(now, expires_at))


def _load_ca(
    layout: Layout, current: TrustList, now: float
) -> tuple[TlsPrivateKey, x509.Certificate]:
    if not layout.ca_key.is_file():
        raise FailedPrecondition(
            f"{layout.root} holds no CA key ({layout.ca_key}), so it cannot issue certificates"
            f" (a region's own host does not hold it): run `yrd federation reissue-tls --dir DIR`"
            f" where the federation's CA key is (the directory `yrd federation init` created),"
            f" then copy each node's new tls.crt and tls.key to its host and restart it"
        )
    ca_cert = load_cert_pem(layout.ca_cert.read_bytes())
    ca_key = load_private_key_pem(layout.ca_key.read_bytes())
    if fingerprint_sha256(ca_cert) != current.root_ca_fingerprint.lower():
        raise FailedPrecondition(
            f"{layout.ca_cert} is not the root CA the trust list names (sha256"
            f" {current.root_ca_fingerprint[:16]}...); restore the federation's CA certificate"
        )
    if _public_der(ca_key) != ca_cert.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    ):
        raise FailedPrecondition(
            f"{layout.ca_key} is not the key of the CA certificate {layout.ca_cert}; restore the"
            f" federation's CA key"
        )
    if ca_cert.not_valid_after_utc.timestamp() <= now:
        raise FailedPrecondition(
            f"the federation's root CA expired at {ca_cert.not_valid_after_utc.isoformat()}; a"
            f" new root needs a new federation: `yrd federation init --dir DIR --force`"
            f" (replaces the CA, keys and stores)"
        )
    return ca_key, ca_cert


def _public_der(key: TlsPrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _tls_paths(layout: Layout, entity_id: str) -> tuple[Path, Path]:
    """Where the member's node reads its certificate and key: its config's, else init's."""
    if entity_id == OPERATOR_ENTITY:
        return layout.operator_dir / "tls.crt", layout.operator_dir / "tls.key"
    region = next(r for r in Region if r.entity_id == entity_id)
    if layout.config(region).is_file():
        config = load_config(layout.config(region))
        return config.tls_cert, config.tls_key
    return layout.node_dir(region) / "tls.crt", layout.node_dir(region) / "tls.key"


def _plan(layout: Layout, current: TrustList, entity_id: str) -> _Plan:
    if entity_id != OPERATOR_ENTITY and entity_id not in {r.entity_id for r in Region}:
        raise InvalidArgument(f"{entity_id} is not a node of this federation directory")
    member = current.member(entity_id)
    cert_path, key_path = _tls_paths(layout, entity_id)
    outgoing: x509.Certificate | None = None
    with contextlib.suppress(OSError, ValueError, FederationError):  # missing or unreadable
        outgoing = load_cert_pem(cert_path.read_bytes())
    hosts: tuple[str, ...] | None = None
    if outgoing is not None and entity_id_of(outgoing) == entity_id:
        hosts = host_names(outgoing)
    fingerprint = fingerprint_sha256(outgoing) if outgoing is not None else None
    return _Plan(
        member=member,
        cert_path=cert_path,
        key_path=key_path,
        hosts=DEFAULT_HOSTS if hosts is None else hosts,
        hosts_from="default" if hosts is None else "certificate",
        outgoing=fingerprint if fingerprint in member.tls_fingerprints else None,
    )


def host_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The certificate's host SANs (DNS names and IP addresses), without entity DNS names."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    names = [
        name
        for name in san.get_values_for_type(x509.DNSName)
        if not name.lower().endswith("." + ENTITY_DNS_SUFFIX)
    ]
    addresses = [
        str(address)
        for address in san.get_values_for_type(x509.IPAddress)
        if isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)  # not networks
    ]
    return (*names, *addresses)


def _with_fingerprints(trust_list: TrustList, entity_id: str, listed: tuple[str, ...]) -> TrustList:
    """The list with `entity_id`'s fingerprints replaced, member order kept."""
    members = tuple(
        replace(m, tls_fingerprints=listed) if m.entity_id == entity_id else m
        for m in trust_list.members
    )
    return replace(trust_list, members=members)
