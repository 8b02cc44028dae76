"""Create and start a throwaway federation for the adversarial suite (pytest-independent)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from federation.regions import Region
from nodes.ops.provisioning import init_federation
from nodes.ops.supervisor import Federation
from tests.adversarial.harness import Harness

TEST_OPTIONS: dict[str, object] = {
    "base_port": 0,
    "password_cost_log2": 10,
    "trust_list_refresh_s": 1.0,
    "revocation_poll_s": 0.5,
    "status_list_ttl_s": 2,
}
STORES = ("sqlite", "postgresql")


def start_federation(
    directory: Path, regions: Sequence[Region], store: str = "sqlite", postgres_url: str = ""
) -> Harness:
    """Provision `directory` when it holds no federation yet, start `regions`, return a harness.

    `store="postgresql"` gives every node its own schema named from `postgres_url`'s `schema`
    parameter (see `tests.adversarial.postgres.new_federation_url`); the caller drops them.
    A federation already in `directory` keeps the store it was provisioned with.
    """
    if store not in STORES:
        raise ValueError(f"store must be one of {', '.join(STORES)}, not {store!r}")
    if not (directory / "trustlist.jwt").exists():
        options = dict(TEST_OPTIONS, store=store, postgres_url=postgres_url)
        init_federation(directory, **options)  # type: ignore[arg-type]
    fed = Federation(directory, regions=tuple(regions))
    fed.start()  # stops the nodes it did start when one fails
    return Harness(directory, fed)
