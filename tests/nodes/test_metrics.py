"""Prometheus metrics of real nodes: scrape /metrics after some calls and read the series."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from federation.errors import InvalidArgument, NotFound
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.observability.metrics import NodeMetrics
from nodes.observability.node_observability import Observability, for_worker
from tests._support.nodes import eventually, make_federation, new_citizen

CHECK_FACE = "/yrd.federation.v1.CaseService/CheckFace"
VERIFY_FACE = "/yrd.federation.v1.FaceService/VerifyFace"
OPERATOR = "yrd:operator:100000"


def scrape(fed_dir: Path, node: str) -> dict[str, Any]:
    """name -> family of the node's /metrics, parsed by prometheus_client's own parser."""
    config = load_config(fed_dir / f"{node}.toml")
    assert config.metrics_port, "provisioned nodes serve metrics"
    url = f"http://{config.host}:{config.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode("utf-8")
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict[str, Any], sample_name: str, **labels: str) -> float:
    """The sample `sample_name` whose labels include `labels` (0 when there is none yet)."""
    family_name = sample_name.removesuffix("_count").removesuffix("_total")
    family_name = family_name.removesuffix("_sum").removesuffix("_bucket")
    family = families.get(family_name)
    if family is None:
        return 0.0
    for sample in family.samples:
        if sample.name == sample_name and labels.items() <= sample.labels.items():
            return float(sample.value)
    return 0.0


def test_served_and_peer_calls_are_counted_by_method_peer_and_status(
    fed_dir: Path, client: FederationClient
) -> None:
    sh_before, hub_before = scrape(fed_dir, "sh"), scrape(fed_dir, "hub")
    served = "yrd_rpc_server_duration_seconds_count"
    refused = {"method": CHECK_FACE, "peer": OPERATOR, "status": "INVALID_ARGUMENT"}
    unknown = {"method": CHECK_FACE, "peer": OPERATOR, "status": "NOT_FOUND"}
    for _ in range(3):
        with pytest.raises(InvalidArgument):
            client.check_face("SH", "", [0.5] * 128)
    # SH asks the hub, which knows no template for a fresh citizen: NOT_FOUND all the way
    with pytest.raises(NotFound):
        client.check_face("SH", new_citizen("310104"), [0.5] * 128)

    sh, hub = scrape(fed_dir, "sh"), scrape(fed_dir, "hub")
    assert value(sh, served, **refused) - value(sh_before, served, **refused) == 3
    assert value(sh, served, **unknown) - value(sh_before, served, **unknown) == 1
    called = {"method": VERIFY_FACE, "target": Region.HUB.entity_id, "status": "NOT_FOUND"}
    client_count = "yrd_rpc_client_duration_seconds_count"
    assert value(sh, client_count, **called) - value(sh_before, client_count, **called) == 1
    at_hub = {"method": VERIFY_FACE, "peer": Region.SH.entity_id, "status": "NOT_FOUND"}
    assert value(hub, served, **at_hub) - value(hub_before, served, **at_hub) == 1
    # a histogram: every bucket series is labelled the same way and +Inf holds the count
    inf = value(sh, "yrd_rpc_server_duration_seconds_bucket", le="+Inf", **refused)
    assert inf == value(sh, served, **refused)
    assert value(sh, "yrd_rpc_server_duration_seconds_sum", **refused) > 0
    # (other nodes poll SH all the time: some call may be in flight while it is scraped)
    in_flight = sh["yrd_rpc_server_in_flight_calls"].samples
    assert {s.labels["kind"] for s in in_flight} >= {"unary"}
    assert all(s.value >= 0 for s in in_flight)
    # refusals are audited one append at a time, through the group committer
    audits = "yrd_audit_append_duration_seconds_count"
    assert value(sh, audits) - value(sh_before, audits) >= 4
    batches = "yrd_store_commit_batch_size_writes_count"
    assert value(sh, batches) > value(sh_before, batches)


def test_scrape_time_series_cases_quotas_and_caches(
    fed_dir: Path, client: FederationClient
) -> None:
    hub = scrape(fed_dir, "hub")
    daily = load_config(fed_dir / "hub.toml").face_quotas
    for region in (Region.SH, Region.JS, Region.ZJ, Region.AH):
        left = value(hub, "yrd_face_quota_remaining_calls", region=region.code)
        assert 0 < left <= daily[region.code].daily_limit
    # cases by state match the owner's store, state by state
    store = open_store(load_config(fed_dir / "js.toml").store_url)
    try:

        def cases_match() -> None:
            js = scrape(fed_dir, "js")
            scraped = {s.labels["state"]: s.value for s in js["yrd_cases"].samples}
            assert scraped == store.case_counts(Region.JS.code)

        eventually(cases_match, timeout_s=5)
    finally:
        store.close()
    sh = scrape(fed_dir, "sh")
    # every token and list signature is verified with a decoded key, decoded once per key
    assert value(sh, "yrd_key_cache_misses_total", cache="ed25519") >= 1
    for name in ("yrd_status_list_cache_hits_total", "yrd_status_list_cache_misses_total"):
        assert name.removesuffix("_total") in sh


def test_each_node_has_a_registry_of_its_own() -> None:
    one, two = NodeMetrics("yrd:sh:310000"), NodeMetrics("yrd:js:320000")
    one.served(CHECK_FACE, OPERATOR, "OK", 0.01)
    one.status_list_lookup(True)
    one.status_list_lookup(False)
    one.batch_committed(3, 0.002)

    def samples(metrics: NodeMetrics, name: str) -> float:
        return metrics.registry.get_sample_value(name, None) or 0.0

    assert samples(one, "yrd_status_list_cache_hits_total") == 1
    assert samples(one, "yrd_status_list_cache_misses_total") == 1
    assert samples(one, "yrd_store_commit_batch_size_writes_sum") == 3
    assert samples(two, "yrd_status_list_cache_hits_total") == 0
    labels = {"method": CHECK_FACE, "peer": OPERATOR, "status": "OK"}
    assert one.registry.get_sample_value("yrd_rpc_server_duration_seconds_count", labels) == 1
    assert two.registry.get_sample_value("yrd_rpc_server_duration_seconds_count", labels) is None


def test_worker_processes_get_their_own_files_and_port(tmp_path: Path) -> None:
    fed = make_federation(tmp_path / "fed", traces=True)
    config = load_config(fed / "sh.toml").model_copy(update={"metrics_port": 0})
    assert for_worker(Path("/n/access.log"), 0) == Path("/n/access.log")
    assert for_worker(Path("/n/access.log"), 3) == Path("/n/access-3.log")
    observed = Observability(config, worker=2)
    try:
        assert observed.access is not None and observed.access.path.name == "access-2.log"
        observed.start()  # port 0: each worker binds a free port of its own
        assert observed.metrics_url.startswith(f"http://{config.host}:")
        with urllib.request.urlopen(observed.metrics_url, timeout=5) as reply:
            assert b"yrd_rpc_server_in_flight_calls" in reply.read()
    finally:
        observed.close()
    assert observed.metrics_url == ""
