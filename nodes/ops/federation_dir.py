"""What a federation directory holds: what `init --force` may remove, its cached trust lists."""

from __future__ import annotations

import shutil
import socket
import time
import tomllib
from pathlib import Path

from federation.errors import FailedPrecondition, FederationError, InvalidArgument
from federation.regions import Region
from federation.trust.trustlist import TrustList, newer, verify_trust_list
from nodes.ops.provisioning import Layout, load_anchor


def is_federation_dir(layout: Layout) -> bool:
    return layout.trust_signed.is_file() or layout.config(Region.HUB).is_file()


def made_by_init(layout: Layout) -> list[Path]:
    """Every top-level entry init creates; a node's stores, caches and logs live in its dir."""
    entries = [
        layout.ca_cert.parent,
        layout.anchor_key.parent,
        layout.operator_dir,
        layout.trust_source,
        layout.trust_signed,
    ]
    for region in Region:
        entries += [layout.node_dir(region), layout.config(region)]
    return entries


def _postgres_stores(layout: Layout) -> list[str]:
    """PostgreSQL store URLs of the old nodes (SQLite stores live in their node dirs)."""
    urls = []
    for region in Region:
        try:
            raw = tomllib.loads(layout.config(region).read_text(encoding="utf-8"))
        except (OSError, ValueError, tomllib.TOMLDecodeError):
            continue
        url = str(raw.get("store_url", ""))
        if url.startswith(("postgresql://", "postgres://")):
            urls.append(url)
    return urls


def _listening(layout: Layout) -> list[str]:
    """Nodes of the old federation that still answer on their configured port."""
    running = []
    for region in Region:
        try:
            raw = tomllib.loads(layout.config(region).read_text(encoding="utf-8"))
            address = (str(raw["host"]), int(raw["port"]))
        except (OSError, ValueError, KeyError, TypeError, tomllib.TOMLDecodeError):
            continue
        try:
            with socket.create_connection(address, timeout=0.5):
                running.append(f"{region.short} on {address[0]}:{address[1]}")
        except OSError:
            pass
    return running


def clear_for_reinit(layout: Layout) -> None:
    """Remove the old federation before `init --force` writes a new one.

    Refuses a non-empty directory that is not a federation directory (a mistyped --dir must
    never be emptied) and a federation whose nodes are still running. Anything else in the
    directory that init did not create is left alone.
    """
    if not layout.root.exists():
        return
    if not layout.root.is_dir():
        raise FailedPrecondition(f"{layout.root} is not a directory")
    if not any(layout.root.iterdir()):
        return
    if not is_federation_dir(layout):
        raise FailedPrecondition(
            f"{layout.root} is not empty and holds no federation (no trustlist.jwt or hub.toml); "
            "--force only replaces a federation directory: choose an empty or new directory"
        )
    running = _listening(layout)
    if running:
        raise FailedPrecondition(
            f"the federation in {layout.root} still runs ({', '.join(running)}); stop it first"
        )
    for url in _postgres_stores(layout):
        from federation.storage.postgres_admin import drop_node_schema

        drop_node_schema(url)  # the new nodes would otherwise open the old stores
    for path in made_by_init(layout):
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)


def trust_list_copies(layout: Layout) -> list[Path]:
    """Where a directory keeps signed trust lists: the hub's (served) and each node's cache."""
    return [layout.trust_signed] + [
        layout.node_dir(region) / "trustlist-cache.jwt" for region in Region
    ]


def read_cached_trust_list(directory: Path, now: float | None = None) -> tuple[TrustList, Path]:
    """The newest copy that verifies against the anchor, without asking the hub."""
    layout = Layout(directory.resolve())
    if not layout.anchor_jwk.is_file():
        raise InvalidArgument(
            f"{layout.root} holds no federation; create one with `yrd federation init --dir DIR`"
        )
    anchor = load_anchor(layout)
    best: tuple[TrustList, Path] | None = None
    problems = []
    for path in trust_list_copies(layout):
        if not path.is_file():
            continue
        try:
            candidate = verify_trust_list(
                path.read_text(encoding="utf-8").strip(), anchor, now or time.time()
            )
        except FederationError as exc:
            problems.append(f"{path}: {exc.message}")
            continue
        if best is None or newer(candidate, best[0]):
            best = (candidate, path)
    if best is None:
        raise FailedPrecondition(
            "no valid cached trust list in " + str(layout.root) + ("; " if problems else "")
            + "; ".join(problems)
        )
    return best
