"""`yrd federation status` on real nodes: versions, trust-list age, peers, a stopped node."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from federation.regions import Region
from nodes.cli import root
from nodes.ops.provisioning import Layout
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import diagnostics_pb2, diagnostics_pb2_grpc
from nodes.peering.channels import secure_channel
from nodes.tls import TlsMaterial

# per node and per peer probe: a live node answers well within it even on a loaded machine
# (a fresh client's TLS handshake included); a node that is down refuses the connection at once
STATUS_TIMEOUT = "30"


def _status(directory: Path, *extra: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        root, ["federation", "status", "--dir", str(directory), "--timeout", STATUS_TIMEOUT, *extra]
    )
    return result.exit_code, json.loads(result.stdout)


def test_status_reports_versions_trust_age_and_peers_then_a_stopped_node(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    code, report = _status(directory)
    nodes = report["nodes"]
    assert isinstance(nodes, dict)
    # small_fed runs HUB, ZJ and SH: JS and AH never started, reported down, no crash
    assert code == 9 and report["all_up"] is False and report["down"] == ["AH", "JS"]
    for short in ("AH", "JS"):
        assert nodes[short]["state"] == "down"
        assert nodes[short]["error"] in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    version = metadata.version("yrd-federation")
    for short in ("HUB", "ZJ", "SH"):
        node = nodes[short]
        assert node["state"] == "up" and node["health"] == "SERVING", node
        assert node["package_version"] == version
        assert node["trust_list"]["version"] >= 1
        assert 0 <= node["trust_list"]["age_s"] < 3600
        assert node["catalogue_version"] >= 1
    assert nodes["HUB"]["role"] == "hub" and nodes["ZJ"]["role"] == "region"
    # regions refresh from the hub every second in tests; the hub is the list's source
    assert nodes["ZJ"]["trust_list"]["since_refresh_s"] is not None
    assert nodes["ZJ"]["trust_list"]["since_refresh_s"] < 60
    assert nodes["HUB"]["trust_list"]["refreshed_at"] is None
    zj_peers = nodes["ZJ"]["peers"]
    assert set(zj_peers) == {"HUB", "SH", "JS", "AH"}
    assert nodes["ZJ"]["peers_reachable"] == ["HUB", "SH"]
    assert zj_peers["SH"]["latency_ms"] > 0
    assert zj_peers["JS"]["reachable"] is False and zj_peers["JS"]["error"]

    fed.stop_node(Region.SH)
    code, report = _status(directory)
    nodes = report["nodes"]
    assert code == 9 and report["down"] == ["AH", "JS", "SH"]
    assert nodes["SH"]["state"] == "down"
    assert nodes["ZJ"]["peers_reachable"] == ["HUB"]
    assert nodes["HUB"]["peers_reachable"] == ["ZJ"]

    code, report = _status(directory, "--no-peers")
    assert report["nodes"]["ZJ"]["peers"] == {}

    runner = CliRunner()
    one = runner.invoke(
        root,
        ["node", "status", "--dir", str(directory), "--region", "ZJ", "--timeout", STATUS_TIMEOUT],
    )
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["peers_reachable"] == ["HUB"]
    gone = runner.invoke(
        root,
        ["node", "status", "--dir", str(directory), "--region", "SH", "--timeout", STATUS_TIMEOUT],
    )
    assert gone.exit_code == 9
    assert json.loads(gone.stdout)["state"] == "down"


def test_status_rpc_is_for_operators_only(small_fed: tuple[Path, Federation]) -> None:
    directory, _ = small_fed
    layout = Layout(directory.resolve())
    sh = layout.node_dir(Region.SH)
    creds = TlsMaterial.load(layout.ca_cert, sh / "tls.crt", sh / "tls.key").channel_credentials()
    from nodes.ops.provisioning import read_trust_list

    endpoint = read_trust_list(layout).member_by_region(Region.ZJ.code, role="region").endpoint
    with secure_channel(endpoint, creds, Region.ZJ.entity_id) as channel:
        stub = diagnostics_pb2_grpc.DiagnosticsServiceStub(channel)
        assert stub.Echo(diagnostics_pb2.EchoRequest(payload=b"x"), timeout=5).payload == b"x"
        with pytest.raises(grpc.RpcError) as refused:
            stub.Status(diagnostics_pb2.StatusRequest(), timeout=5)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_trust_list_with_the_hub_down_points_to_the_offline_cache(
    small_fed: tuple[Path, Federation],
) -> None:
    directory, fed = small_fed
    runner = CliRunner()
    live = runner.invoke(root, ["federation", "trust-list", "--dir", str(directory)])
    assert live.exit_code == 0, live.output
    version = json.loads(live.stdout)["version"]
    fed.stop_node(Region.HUB)
    down = runner.invoke(root, ["federation", "trust-list", "--dir", str(directory)])
    assert down.exit_code == 9
    error = json.loads(down.stderr)
    assert error["error"] == "UNAVAILABLE"
    assert "yrd federation trust-list --offline" in error["message"]
    assert "trustlist.jwt" in error["message"]
    offline = runner.invoke(
        root, ["federation", "trust-list", "--dir", str(directory), "--offline"]
    )
    assert offline.exit_code == 0, offline.output
    cached = json.loads(offline.stdout)
    assert cached["source"] == "file" and cached["verified"] is True
    assert cached["version"] >= version
    assert Path(cached["path"]).name in {"trustlist.jwt", "trustlist-cache.jwt"}
