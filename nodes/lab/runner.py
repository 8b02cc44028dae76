"""`yrd lab run`: start the lab, prepare the load, run it under the fault schedule, report."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from federation.errors import FederationError, NotFound
from federation.regions import Region
from nodes.client import FederationClient
from nodes.fixtures.case_cast import OWNER
from nodes.lab.controller import Lab
from nodes.lab.load import GcPauses, OpenLoop, Sample, build_schedule
from nodes.lab.metrics import phase_deltas, run_delta, scrape_all
from nodes.lab.probes import LINK_PREFIX, link_probes, proxy_overhead
from nodes.lab.proxy_host import ProxyHost
from nodes.lab.report import (
    Event,
    ReportInput,
    Window,
    build_report,
    phases,
    windows,
    write_report,
    write_samples,
)
from nodes.lab.scenario import Fault, Scenario
from nodes.lab.topology import Topology
from nodes.lab.traces import case_critical_path, sample_case
from nodes.lab.workload import build_operations, warm_up
from nodes.ops.process_cpu import ProcessCpu

PROGRESS_EVERY_S = 5.0


def log(message: str) -> None:
    print(f"lab {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def settle(client: FederationClient, timeout_s: float = 30.0) -> float:
    """Wait until every region reaches every peer through its proxies (warms their channels)."""
    t0 = time.monotonic()
    pending = list(Region)
    while pending and time.monotonic() - t0 < timeout_s:
        still = []
        for region in pending:
            try:
                status = client.status(region, probe_peers=True, peer_timeout_s=2.0)
                if not all(p.reachable for p in status.peers):
                    still.append(region)
            except FederationError:
                still.append(region)
        pending = still
        if pending:
            time.sleep(0.5)
    if pending:
        log(f"warning: {[r.short for r in pending]} still miss peers after {timeout_s:.0f} s")
    return time.monotonic() - t0


class FaultDriver:
    """Applies the schedule's fault events at their times (a thread); records when they happened."""

    def __init__(self, lab: Lab, faults: tuple[Fault, ...]) -> None:
        self.lab = lab
        self.faults = faults
        self.events: list[Event] = []
        self.active: dict[int, Any] = {}
        self._stop = threading.Event()
        self._plan = sorted(
            [(f.at_s, i, "start") for i, f in enumerate(faults)]
            + [(f.end_s, i, "end") for i, f in enumerate(faults) if f.end_s is not None]
        )
        self.start = 0.0
        self.thread = threading.Thread(target=self._run, name="lab-faults", daemon=True)
        self.snapshots: list[tuple[float, dict[str, Any]]] = []
        self._snap_lock = threading.Lock()

    def begin(self, start: float) -> None:
        self.start = start
        self.thread.start()

    def _apply(self, index: int, what: str) -> None:
        fault = self.faults[index]
        try:
            if what == "start":
                self.active[index] = self.lab.begin(fault)
            elif index in self.active:
                self.lab.end(fault, self.active.pop(index))
        except Exception as exc:  # a fault that could not be applied is reported, not fatal
            log(f"fault {fault.label} {what} failed: {type(exc).__name__}: {exc}")
        t = time.perf_counter() - self.start
        self.events.append(Event(t, fault.label, fault.kind, what, index))
        # each node's metrics at the phase boundary, off this thread (a frozen node's scrape
        # waits for its timeout; the next fault must not)
        threading.Thread(target=self._snapshot, args=(t,), daemon=True).start()
        log(f"t={t:6.1f}s fault {what}: {fault.label}")

    def _snapshot(self, t: float) -> None:
        scraped = scrape_all(self.lab, timeout_s=1.0)
        with self._snap_lock:
            self.snapshots.append((t, scraped))

    def _run(self) -> None:
        for t, index, what in self._plan:
            wait = self.start + t - time.perf_counter()
            if wait > 0 and self._stop.wait(wait):
                return
            self._apply(index, what)

    def finish(self) -> None:
        """Stop the schedule and undo what is still active and meant to end (after the load
        ended); nodes killed for good are restarted later, by `Lab.revive`."""
        self._stop.set()
        self.thread.join(60)
        for index in sorted(self.active):
            if self.faults[index].end_s is not None:  # a node killed for good stays down
                self._apply(index, "end")


def _watch(sender: threading.Thread, loop: OpenLoop, start: float, total: int) -> None:
    """Progress lines every few seconds until the sender is done."""
    while sender.is_alive():
        sender.join(PROGRESS_EVERY_S)
        p = loop.progress()
        log(
            f"t={time.perf_counter() - start:6.1f}s sent {p['sent']}/{total} "
            f"ok {p['ok']} failed {p['failed']} in flight {p['in_flight']}"
        )


def verify_acknowledged(client: FederationClient, samples: list[Sample]) -> dict[str, Any]:
    """Every acknowledged case must be found at its owner afterwards."""
    ids = [s.ack for s in samples if s.ack]
    lost, unverified = [], []
    for case_id in ids:
        for attempt in range(10):
            try:
                client.get_case(OWNER, case_id, OWNER.code)
                break
            except NotFound:
                lost.append(case_id)
                break
            except FederationError:
                if attempt == 9:
                    unverified.append(case_id)
                time.sleep(0.5)
    return {
        "operation": "case_submit",
        "checked_at": f"{OWNER.code} (owner region), GetCase after the run",
        "acknowledged": len(ids),
        "found": len(ids) - len(lost) - len(unverified),
        "lost": len(lost),
        "unverified": len(unverified),
        "lost_ids": lost,
    }


def _probe_schedule(
    names: list[str], rate: float, duration_s: float
) -> list[tuple[float, str, int]]:
    """Each link probed `rate` times a second, the links staggered evenly within each period."""
    if rate <= 0:
        return []
    period = 1.0 / rate
    out = []
    for k, name in enumerate(names):
        offset = period * k / len(names)
        out += [(offset + i * period, name, i) for i in range(int((duration_s - offset) * rate))]
    return out


def run_scenario(
    scenario: Scenario,
    topology: Topology,
    directory: Path,
    out_dir: Path,
    plots: bool = True,
    command: str = "",
) -> dict[str, Any]:
    """The whole experiment; returns the report (also written to OUT/report.json).

    `command` is recorded in the report (how to reproduce it)."""
    t_begin = time.perf_counter()
    log(
        f"scenario {scenario.name}: topology {topology.name}, {scenario.duration_s:.0f} s, "
        f"{len(scenario.faults)} faults; federation in {directory}"
    )
    lab = Lab(directory, topology, traces=True)
    try:
        lab.start()
        took = time.perf_counter() - t_begin
        log(f"nodes up behind {len(lab.ports)} link proxies ({took:.1f} s)")
        with FederationClient(directory, timeout_s=10.0) as client:
            report, samples, spans = _run(scenario, topology, lab, client)
            report["command"] = command
    finally:
        lab.stop()  # the nodes flush their span files as they stop
        log("lab stopped")
    report["critical_path"] = case_critical_path(lab.layout, sample_case(samples, spans))
    if plots:
        from nodes.lab.plots import plot_latency

        path = plot_latency(
            [s for s in samples if not s.op.startswith(LINK_PREFIX)],
            spans,
            scenario.duration_s,
            out_dir / "latency.png",
            f"{scenario.name} on {topology.name}: latency from intended send time",
        )
        report["plots"] = [str(path)]
    report["samples_csv"] = str(write_samples(samples, out_dir))
    report["wall_s"] = round(time.perf_counter() - t_begin, 1)
    report["report_path"] = str(out_dir / "report.json")
    write_report(report, out_dir)
    log(f"report: {out_dir / 'report.json'}")
    return report


def _run(
    scenario: Scenario,
    topology: Topology,
    lab: Lab,
    client: FederationClient,
) -> tuple[dict[str, Any], list[Sample], list[Window]]:
    settled = settle(client)
    log(f"every node reaches its peers through the proxies ({settled:.1f} s)")
    rates = scenario.load.rates()
    schedule = build_schedule(rates, scenario.duration_s, scenario.load.arrivals, scenario.seed)
    counts = {
        op: 1 + max(i for _, o, i in schedule if o == op)
        for op in rates
        if any(o == op for _, o, _ in schedule)
    }
    tag = f"lab{int(time.time())}"
    ops = build_operations(client, lab.directory, counts, tag, log)
    problems = warm_up(ops, scenario.load.timeout_s)
    if problems:
        log(f"warning: warm-up failed for {problems}")
    log(f"proxy overhead: {scenario.overhead_echoes} echoes direct and through a zero-delay proxy")
    overhead = proxy_overhead(lab, Region.SH, scenario.overhead_echoes)
    log(
        f"proxy overhead: p50 x{overhead['ratio_p50']}, +{overhead['added_p50_us']} us p50, "
        f"+{overhead['added_p99_us']} us p99"
    )
    probes, channels = link_probes(lab)
    schedule = sorted(
        schedule + _probe_schedule(sorted(probes), scenario.link_probe_rate, scenario.duration_s)
    )
    metrics_before = scrape_all(lab)
    proxy_cpu = ProcessCpu(lab.farm.pid) if isinstance(lab.farm, ProxyHost) else None
    proxy_cpu0 = proxy_cpu.seconds() if proxy_cpu else None
    loop = OpenLoop(schedule, {**ops, **probes}, scenario.load.timeout_s)
    driver = FaultDriver(lab, scenario.faults)
    start = time.perf_counter() + 0.2
    sender = threading.Thread(target=loop.run, args=(start,), name="lab-load", daemon=True)
    log(
        f"load: {len(schedule)} requests over {scenario.duration_s:.0f} s "
        f"({', '.join(f'{k} {v:g}/s' for k, v in rates.items())}, link probes "
        f"{scenario.link_probe_rate:g}/s x {len(probes)})"
    )
    load_at_start = round(os.getloadavg()[0], 2)  # a busy machine explains a lagging sender
    driver.begin(start)
    gc_pauses = GcPauses()
    with gc_pauses:
        sender.start()
        _watch(sender, loop, start, len(schedule))
    driver.finish()
    for channel in channels:
        channel.close()
    metrics_after = scrape_all(lab)
    proxy_cpu1 = proxy_cpu.seconds() if proxy_cpu else None
    revived = lab.revive()
    if revived:
        log(f"restarted {[r.short for r in revived]} (killed for good) to check their writes")
    log("verifying every acknowledged case at its owner")
    acknowledged = verify_acknowledged(client, loop.samples)
    assert lab.farm is not None
    data = ReportInput(
        scenario=scenario.model_dump(mode="json"),
        topology=topology.name,
        duration_s=scenario.duration_s,
        samples=loop.samples,
        events=driver.events,
        recovery_window_s=scenario.recovery_window_s,
        recovery_min_requests=scenario.recovery_min_requests,
        acknowledged=acknowledged,
        proxy_overhead=overhead,
        proxies=lab.farm.stats(),
        command="",
        timeout_s=scenario.load.timeout_s,
        configured_rtt_ms={
            key: spec.delay_ms + topology.links["->".join(reversed(key.split("->")))].delay_ms
            for key, spec in topology.links.items()
        },
        extra={
            "max_send_lag_ms": round(loop.max_send_lag_s * 1e3, 3),
            "load_generator_gc": gc_pauses.to_dict(),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_1m_at_start": load_at_start,
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            },
            "metrics": run_delta(metrics_before, metrics_after),
            "metrics_by_phase": phase_deltas(
                [(0.0, metrics_before), *driver.snapshots, (scenario.duration_s, metrics_after)],
                phases(driver.events, scenario.duration_s),
            ),
            "proxy_process": {
                "separate": proxy_cpu is not None,
                "cpu_s_during_load": None
                if proxy_cpu0 is None or proxy_cpu1 is None
                else round(proxy_cpu1 - proxy_cpu0, 3),
            },
        },
    )
    return build_report(data), loop.samples, windows(driver.events)
