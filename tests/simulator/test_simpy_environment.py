"""The inlined run loop behaves like SimPy's."""

from __future__ import annotations

from typing import Any

import pytest
import simpy

from simulator.kernels.simpy_environment import Environment


def _clock(env: simpy.Environment, log: list[float]) -> Any:
    for _ in range(5):
        yield env.timeout(1.5)
        log.append(env.now)
    return "done"


@pytest.mark.parametrize("cls", [simpy.Environment, Environment])
def test_run_until_event_and_resume(cls: type[simpy.Environment]) -> None:
    env = cls()
    log: list[float] = []
    proc = env.process(_clock(env, log))
    stop = env.timeout(3.0, value="half")
    assert env.run(until=stop) == "half"
    assert log == [1.5]  # the stop event was scheduled before the clock's second tick
    assert env.run(until=proc) == "done"
    assert log == [1.5, 3.0, 4.5, 6.0, 7.5]
    assert env.run(until=proc) == "done"  # already processed


def test_untriggered_until_with_empty_schedule_raises() -> None:
    env = Environment()
    with pytest.raises(RuntimeError, match="until"):
        env.run(until=env.event())


def test_failed_event_crashes_the_run() -> None:
    env = Environment()

    def boom(env: simpy.Environment) -> Any:
        yield env.timeout(1)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        env.run(until=env.process(boom(env)))
