"""`smartcity traffic simulate|controllers`: a checked short run and bad input as errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from smartcity.traffic.signals import sumo
from smartcity.traffic.signals.cli import cli

runner = CliRunner()


def test_controllers_lists_all_three() -> None:
    result = runner.invoke(cli, ["controllers"])
    assert result.exit_code == 0
    for name in ("fixed", "max-pressure", "adaptive"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["simulate", "atlantis"], "one of cologne1"),
        (["simulate", "grid4x4", "--controller", "greedy"], "one of fixed"),
        (["simulate", "grid4x4", "--duration", "10"], "--duration"),
        (["simulate", "grid4x4", "--seed", "-1"], "--seed"),
        (["simulate", "grid4x4", "--interval", "5"], "--interval"),
        (["simulate", "grid4x4", "--prefix", "a b"], "--prefix"),
    ],
)
def test_bad_input_is_a_usage_error(args: list[str], expected: str) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert expected in result.output


@pytest.mark.skipif(sumo.available() is not None, reason=f"traffic-sim extra: {sumo.available()}")
def test_simulate_grid4x4_checks_every_signal() -> None:
    result = runner.invoke(cli, ["simulate", "grid4x4", "--duration", "300", "--check"])
    assert result.exit_code == 0, result.output
    assert "grid4x4 · adaptive · seed 1: delay" in result.output
    assert "0 violations" in result.output


@pytest.mark.skipif(sumo.available() is not None, reason=f"traffic-sim extra: {sumo.available()}")
def test_streaming_without_a_key_or_a_reachable_platform_is_a_clear_error() -> None:
    result = runner.invoke(cli, ["simulate", "grid4x4", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "--token" in result.output
    result = runner.invoke(
        cli, ["simulate", "grid4x4", "--url", "http://127.0.0.1:9", "--token", "k"]
    )
    assert result.exit_code == 2 and "error:" in result.output
