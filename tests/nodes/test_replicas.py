"""Two replicas of a region sharing one PostgreSQL store, listed together in the trust list:
idempotent issuance raced across them, and kill -9 of one under load losing nothing."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation.audit import verify_chain
from federation.errors import FederationError
from federation.regions import Region
from federation.storage import open_store
from nodes.client import FederationClient
from nodes.config import load_config
from nodes.ops.supervisor import Federation
from nodes.pb.v1 import licence_pb2, licence_pb2_grpc
from nodes.peering.channels import secure_channel
from tests._support.nodes import make_federation, new_citizen
from tests._support.workers import (
    OWN_CONNECTION,
    add_replica,
    operator_credentials,
    start_replica,
    stop_process,
)

pytestmark = pytest.mark.postgres

FIELDS = {
    "sex": "男",
    "nationality": "中国",
    "birth_date": "1985-03-09",
    "address": "上海市黄浦区人民大道200号",
    "first_issue_date": "2005-03-01",
    "vehicle_class": "C1",
    "file_number": "310100123456",
}
RACES = 5
LOAD_WRITES = 90
LOAD_THREADS = 4
KILL_AFTER = 25


class Replicated:
    """Hub plus Shanghai as two replicas (one via Federation, one started here)."""

    def __init__(self, directory: Path, fed: Federation, replica: Path) -> None:
        self.directory = directory
        self.fed = fed
        self.replica = replica
        self.sh = load_config(directory / "sh.toml")
        self.addresses = [self.sh.endpoint, load_config(replica).endpoint]


@pytest.fixture(scope="module")
def replicated(
    tmp_path_factory: pytest.TempPathFactory, module_postgres_url: str
) -> Iterator[Replicated]:
    """One federation for the module; the kill -9 test, which ends a replica, runs last."""
    from tests._support.storage import drop_node_schemas

    postgres_url = module_postgres_url
    prefix = postgres_url.rsplit("schema=", 1)[1]
    directory = make_federation(
        tmp_path_factory.mktemp("replicas") / "federation",
        store="postgresql",
        postgres_url=postgres_url,
    )
    replica_config = add_replica(directory, Region.SH)
    fed = Federation(directory, regions=(Region.HUB, Region.SH))
    try:
        fed.start()
        replica = start_replica(directory, replica_config)
        try:
            yield Replicated(directory, fed, replica_config)
        finally:
            stop_process(replica)
    finally:
        fed.stop()
        drop_node_schemas(postgres_url, prefix)


def _request(request_id: str, holder: str) -> licence_pb2.IssueLicenceRequest:
    import json

    return licence_pb2.IssueLicenceRequest(
        request_id=request_id,
        licence_type="driving_licence",
        holder_code=holder,
        holder_name="王五",
        number=holder,
        valid_until="2031-01-02",
        fields_json=json.dumps(FIELDS, ensure_ascii=False),
    )


def test_the_same_issue_request_raced_to_both_replicas_issues_one_licence(
    replicated: Replicated,
) -> None:
    creds = operator_credentials(replicated.directory)
    channels = [
        secure_channel(a, creds, Region.SH.entity_id, OWN_CONNECTION) for a in replicated.addresses
    ]
    stubs = [licence_pb2_grpc.LicenceServiceStub(c) for c in channels]
    issued: dict[str, list[licence_pb2.LicenceDocument]] = {}
    for n in range(RACES):
        request = _request(f"race-{n}", new_citizen("310101"))
        barrier = threading.Barrier(len(stubs))
        replies: list[licence_pb2.LicenceDocument] = []

        def issue(
            stub: licence_pb2_grpc.LicenceServiceStub,
            request: licence_pb2.IssueLicenceRequest = request,
            barrier: threading.Barrier = barrier,
            replies: list[licence_pb2.LicenceDocument] = replies,
        ) -> None:
            barrier.wait(5)
            replies.append(stub.IssueLicence(request, timeout=15))

        threads = [threading.Thread(target=issue, args=(stub,)) for stub in stubs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        issued[request.request_id] = replies
    for channel in channels:
        channel.close()
    for request_id, replies in issued.items():
        assert len(replies) == 2, request_id  # both replicas answered
        assert replies[0].identifier == replies[1].identifier  # ...with the one licence
        assert sorted(r.created for r in replies) == [False, True]
    store = open_store(replicated.sh.store_url)
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok
        issues = [e for e in entries if e.action == "licence.issue"]
        granted = [e.detail["request_id"] for e in issues if e.outcome == "granted"]
        retried = [e.detail["request_id"] for e in issues if e.outcome == "retry"]
        for request_id, replies in issued.items():
            # one issue, and the other replica's answer audited as the retry it was
            assert granted.count(request_id) == retried.count(request_id) == 1, request_id
            stored = store.get_licence(replies[0].identifier)
            assert stored is not None and stored.request_id == request_id
        indices = [index for index, _ in store.status_entries()]
        assert len(indices) == len(set(indices)) == RACES
    finally:
        store.close()


def test_kill_9_of_one_replica_under_load_loses_no_acknowledged_write(
    replicated: Replicated,
) -> None:
    acknowledged: dict[str, str] = {}  # request id -> identifier, once the client had the answer
    after_kill: list[str] = []
    killed = threading.Event()
    lock = threading.Lock()
    numbers = itertools.count()
    with FederationClient(replicated.directory, timeout_s=5.0) as client:
        # the trust list lists both replicas: the client's one channel balances over them
        assert client.endpoint("SH") == ",".join(replicated.addresses)

        def write_until_done() -> None:
            while True:
                with lock:
                    n = next(numbers)
                if n >= LOAD_WRITES:
                    return
                holder = new_citizen("310101")
                request_id = f"load-{n}"
                for _attempt in range(8):  # a retry of the same request id is idempotent
                    try:
                        reply = client.issue_licence(
                            "SH", request_id, "driving_licence", holder, "王五", FIELDS,
                            number=holder, valid_until="2031-01-02",
                        )
                    except FederationError:
                        time.sleep(0.1)
                        continue
                    with lock:
                        acknowledged[request_id] = reply.identifier
                        if killed.is_set():
                            after_kill.append(request_id)
                    break

        threads = [threading.Thread(target=write_until_done) for _ in range(LOAD_THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        replicated.fed.kill_node(Region.SH)  # replica 1, mid-load: writes are in flight
        killed.set()
        for thread in threads:
            thread.join(90)
    assert len(acknowledged) >= KILL_AFTER
    assert after_kill, "no write was acknowledged by the surviving replica"
    store = open_store(replicated.sh.store_url)
    try:
        entries = list(store.audit_entries())
        assert verify_chain(entries).ok  # both replicas appended to one unbroken chain
        audited = [
            e.detail["request_id"]
            for e in entries
            if e.action == "licence.issue" and e.outcome == "granted"
        ]
        assert len(audited) == len(set(audited)), "a request was issued twice"
        for request_id, identifier in acknowledged.items():
            stored = store.get_licence(identifier)
            assert stored is not None and stored.request_id == request_id, request_id
            assert request_id in audited, request_id
    finally:
        store.close()
