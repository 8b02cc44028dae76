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


def start_federation(directory: Path, regions: Sequence[Region]) -> Harness:
    """Provision `directory` when it holds no federation yet, start `regions`, return a harness."""
    if not (directory / "trustlist.jwt").exists():
        init_federation(directory, **TEST_OPTIONS)  # type: ignore[arg-type]
    fed = Federation(directory, regions=tuple(regions))
    fed.start()
    return Harness(directory, fed)
