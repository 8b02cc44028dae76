"""Run the adversarial suite without pytest and print JSON counts per attack.

    python -m tests.adversarial.report --dir FED [--attacks fuzz,forged_tokens,...] [--seed N]

FED empty or missing: a federation is provisioned there and its nodes started (and stopped at the
end). FED holding a federation whose nodes are down: they are started. FED already running: the
attacks run against it, except kill -9, which needs processes this command owns.

`--store postgresql [--postgres-url URL]` provisions the nodes on PostgreSQL, one schema each
(`<prefix>_<region>`; the prefix is the URL's `schema` parameter, or a fresh `adv_<hex>`), adds the
store limits to the fuzz corpus (1 MB and 3 KB text, NUL characters, in every string field) and
drops those schemas at the end unless `--keep-schemas` (FED then no longer has its stores).
A federation already in FED keeps the store it was provisioned with; asking for another is an error.
Exit status 1 when any attack has imprecise answers, crashes, lost writes or unaudited refusals,
2 when the command cannot run (PostgreSQL unreachable, store mismatch).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from federation.regions import Region
from tests.adversarial import postgres
from tests.adversarial.harness import Harness, Tally
from tests.adversarial.setup import STORES

ATTACKS = (
    "fuzz",
    "forwarded_faults",
    "forged_tokens",
    "replay_race",
    "wrong_roles",
    "confused_deputy",
    "tokenless_reads",
    "kill9_under_writes",
    "many_streams",
)
ALL_REGIONS = (Region.HUB, Region.SH, Region.JS, Region.ZJ, Region.AH)


def summary(tallies: list[Tally], elapsed_s: float, store: str = "sqlite") -> dict[str, object]:
    return {
        "store": store,
        "attacks": {t.attack: t.to_dict() for t in tallies},
        "totals": {
            key: sum(int(getattr(t, key)) for t in tallies)
            for key in (
                "tried",
                "refused_precisely",
                "ok",
                "imprecise",
                "crashes",
                "lost",
                "unaudited",
            )
        },
        "clean": all(t.clean for t in tallies),
        "elapsed_s": round(elapsed_s, 1),
    }


def _running(directory: Path) -> bool:
    if not (directory / "trustlist.jwt").exists():
        return False
    probe = Harness(directory)
    try:
        return all(probe.health(r, timeout_s=1.0) == "SERVING" for r in ALL_REGIONS)
    finally:
        probe.close()


def run(
    directory: Path,
    attacks: tuple[str, ...],
    seed: int,
    per_method: int,
    streams: int,
    store: str = "sqlite",
    postgres_url: str = "",
    store_limits: bool = False,
    keep_schemas: bool = False,
) -> dict[str, object]:
    started = time.monotonic()
    provisioned = not (directory / "trustlist.jwt").exists()
    try:
        tallies = _attack(
            directory, attacks, seed, per_method, streams, store, postgres_url, store_limits
        )
    finally:
        if provisioned and store == "postgresql" and not keep_schemas:
            _drop_node_schemas(directory)
    return summary(tallies, time.monotonic() - started, store)


def _attack(
    directory: Path,
    attacks: tuple[str, ...],
    seed: int,
    per_method: int,
    streams: int,
    store: str,
    postgres_url: str,
    store_limits: bool,
) -> list[Tally]:
    from tests.adversarial.cases import file_case
    from tests.adversarial.fuzz import run_fuzz
    from tests.adversarial.load import run_kill9_under_writes, run_many_streams
    from tests.adversarial.roles import (
        run_confused_deputy,
        run_tokenless_reads,
        run_wrong_roles,
    )
    from tests.adversarial.setup import start_federation
    from tests.adversarial.tokens import run_replay_race

    if (directory / "trustlist.jwt").exists() and _backend(directory) != store:
        raise StoreMismatch(f"{directory} holds a federation on {_backend(directory)}, not {store}")
    if _running(directory):
        harness = Harness(directory)
    else:
        harness = start_federation(directory, ALL_REGIONS, store, postgres_url)
    tallies: list[Tally] = []
    try:
        op = harness.operator()
        case = None
        plan: dict[str, Callable[[], Tally]] = {
            "fuzz": lambda: run_fuzz(
                harness,
                {
                    Region.SH: [op, harness.region(Region.JS)],
                    Region.HUB: [op, harness.region(Region.SH)],
                },
                seed=seed,
                per_method=per_method,
                store_limits=store_limits,
            ),
            "forwarded_faults": lambda: _forwarded(harness),
            "forged_tokens": lambda: _forged(harness),
            "replay_race": lambda: run_replay_race(harness),
            "wrong_roles": lambda: run_wrong_roles(
                harness,
                {Region.SH: harness.region(Region.JS), Region.HUB: harness.region(Region.SH)},
            ),
        }
        for name in attacks:
            if name in plan:
                tallies.append(plan[name]())
            elif name in ("confused_deputy", "tokenless_reads", "many_streams"):
                case = case or file_case(harness)
                if name == "confused_deputy":
                    tallies.append(run_confused_deputy(harness, case, Region.AH))
                elif name == "tokenless_reads":
                    tallies.append(run_tokenless_reads(harness, case, Region.AH))
                else:
                    tallies.append(run_many_streams(harness, case, streams))
            elif name == "kill9_under_writes":
                tallies.append(run_kill9_under_writes(harness, Region.ZJ))
            else:
                raise SystemExit(f"unknown attack {name!r}; choose from {', '.join(ATTACKS)}")
    finally:
        harness.close()
        if harness.fed is not None:
            harness.fed.stop()
    return tallies


def _backend(directory: Path) -> str:
    from nodes.config import load_config
    from nodes.ops.provisioning import Layout

    url = load_config(Layout(directory).config(Region.SH)).store_url
    return "postgresql" if url.startswith(("postgresql:", "postgres:")) else "sqlite"


class StoreMismatch(Exception):
    """The federation in FED is not on the store asked for."""


def _drop_node_schemas(directory: Path) -> None:
    """Drop the schema each node's store URL names (only schemas holding a node store)."""
    from federation.storage.postgres_admin import drop_node_schema
    from nodes.config import load_config
    from nodes.ops.provisioning import Layout

    layout = Layout(directory)
    for region in ALL_REGIONS:
        if layout.config(region).exists():
            drop_node_schema(load_config(layout.config(region)).store_url)


def _forwarded(harness: Harness) -> Tally:
    from tests.adversarial.cases import wait_for_item
    from tests.adversarial.fuzz import FORWARDED_ITEM, run_forwarded_faults

    wait_for_item(harness, (Region.SH,), item=FORWARDED_ITEM)
    return run_forwarded_faults(harness, Region.SH, Region.JS)


def _forged(harness: Harness) -> Tally:
    from tests.adversarial.cases import ITEM, wait_for_item
    from tests.adversarial.tokens import run_forged_tokens

    wait_for_item(harness, (Region.SH,))
    return run_forged_tokens(harness, ITEM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.adversarial.report",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--dir", required=True, type=Path, help="federation directory")
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--per-method", type=int, default=30)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--store", choices=STORES, default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="",
        help=f"with --store postgresql; default {postgres.POSTGRES_BASE_URL}, a fresh prefix",
    )
    parser.add_argument(
        "--store-limits",
        action="store_true",
        help="1 MB, 3 KB and NUL text in every string field (always on with PostgreSQL)",
    )
    parser.add_argument(
        "--keep-schemas",
        action="store_true",
        help="keep the PostgreSQL schemas of a federation this command provisioned",
    )
    args = parser.parse_args(argv)
    attacks = tuple(a.strip() for a in args.attacks.split(",") if a.strip())
    url = args.postgres_url
    if args.store == "postgresql":
        url = url or postgres.POSTGRES_BASE_URL
        reason = postgres.unavailable_reason(url)
        if reason is not None:
            parser.exit(2, f"{parser.prog}: {reason}\n")
        if "schema=" not in url:
            url = postgres.new_federation_url(url)[0]
    elif url:
        parser.error("--postgres-url needs --store postgresql")
    try:
        result = run(
            args.dir.resolve(),
            attacks,
            args.seed,
            args.per_method,
            args.streams,
            store=args.store,
            postgres_url=url,
            store_limits=args.store_limits or args.store == "postgresql",
            keep_schemas=args.keep_schemas,
        )
    except StoreMismatch as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    return 0 if result["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
