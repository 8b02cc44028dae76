"""The link proxies in a process of their own, driven over JSON lines on stdin/stdout.

The proxies relay every node-to-node byte in Python; sharing a process (and its GIL) with the
load generator would let each slow the other and blur both the latencies and the proxies'
overhead. `ProxyHost` offers the `ProxyFarm` methods and forwards each call to the child
(`python -m nodes.lab.proxy_host`), which runs a `ProxyFarm`; the child exits when its
stdin closes, so it never outlives the lab.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from typing import Any

from nodes.lab.proxy import ProxyFarm
from nodes.lab.topology import LinkSpec


class ProxyHost:
    """A `ProxyFarm` in a child process; every method blocks until the child answered."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "nodes.lab.proxy_host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        self.pid = self._proc.pid

    def _call(self, op: str, **args: Any) -> Any:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the proxy process exited with {self._proc.returncode}")
            self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the proxy process closed its output")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"proxy process: {reply.get('error')}")
        return reply.get("result")

    def add(
        self,
        name: str,
        upstream: tuple[str, int],
        forward: LinkSpec,
        backward: LinkSpec,
        avoid: frozenset[int] = frozenset(),
    ) -> int:
        return int(
            self._call(
                "add",
                name=name,
                upstream=list(upstream),
                forward=forward.model_dump(),
                backward=backward.model_dump(),
                avoid=sorted(avoid),
            )
        )

    def set_specs(self, name: str, forward: LinkSpec, backward: LinkSpec) -> None:
        self._call(
            "set_specs", name=name, forward=forward.model_dump(), backward=backward.model_dump()
        )

    def reset(self, name: str) -> int:
        return int(self._call("reset", name=name))

    def stats(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self._call("stats")
        return result

    def close(self) -> None:
        if self._proc.poll() is not None:
            return
        with contextlib.suppress(RuntimeError, OSError):
            self._call("close")
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)

    def __enter__(self) -> ProxyHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(farm: ProxyFarm, request: dict[str, Any]) -> Any:
    op = request["op"]
    if op == "add":
        return farm.add(
            request["name"],
            (str(request["upstream"][0]), int(request["upstream"][1])),
            LinkSpec.model_validate(request["forward"]),
            LinkSpec.model_validate(request["backward"]),
            frozenset(int(p) for p in request["avoid"]),
        )
    if op == "set_specs":
        farm.set_specs(
            request["name"],
            LinkSpec.model_validate(request["forward"]),
            LinkSpec.model_validate(request["backward"]),
        )
        return None
    if op == "reset":
        return farm.reset(request["name"])
    if op == "stats":
        return farm.stats()
    if op == "close":
        return None
    raise ValueError(f"unknown operation {op!r}")


def main() -> None:
    """The child: answer one JSON line per request until stdin closes or `close` arrives."""
    with ProxyFarm() as farm:
        for line in sys.stdin:
            try:
                request = json.loads(line)
                reply = {"ok": True, "result": _serve(farm, request)}
            except Exception as exc:  # the parent gets the error, the proxies keep running
                request, reply = {}, {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            if request.get("op") == "close":
                break


if __name__ == "__main__":
    main()
