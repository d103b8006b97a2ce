"""The glue's own decisions: pass scheduling, drift audits, kopf peering settings, the metrics server's life."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterator

import kopf
import pytest
from kopf._core.engines import posting

from lowlatency import cli, config, observability
from lowlatency.config import OperatorConfig, Peering, Timing
from lowlatency.handlers import PEERING_PRIORITIES, Schedule, Supervisor, configure_peering
from lowlatency.reconciler import PassResult

TIMING = Timing(poll_seconds=10, resync_seconds=100, audit_seconds=1000, jitter=0.1, max_backoff_seconds=80)


def test_the_next_pass_is_soon_while_moving_and_late_at_steady_state() -> None:
    schedule = Schedule()
    schedule.after(PassResult({}, moving=True), TIMING, now=0.0, audited=False)
    assert 9 <= schedule.due <= 11
    schedule.after(PassResult({}), TIMING, now=0.0, audited=False)
    assert 90 <= schedule.due <= 110


def test_transient_errors_back_off_up_to_the_limit_and_success_resets_it() -> None:
    schedule = Schedule()
    delays = []
    for _ in range(5):
        schedule.after(PassResult({}, retry=True), TIMING, now=0.0, audited=False)
        delays.append(schedule.due)
    assert delays[0] < delays[1] < delays[2] < delays[3]
    assert delays[4] <= 80 * 1.1
    schedule.after(PassResult({}, moving=True), TIMING, now=0.0, audited=False)
    assert schedule.failures == 0


def test_the_first_audit_is_spread_over_one_period_and_then_comes_once_per_period() -> None:
    schedule = Schedule()
    assert not schedule.audit_is_due(TIMING, now=0.0)
    assert schedule.audit_due is not None
    assert 0 <= schedule.audit_due <= 1000
    assert schedule.audit_is_due(TIMING, now=1000.0)
    schedule.after(PassResult({}), TIMING, now=1000.0, audited=True)
    assert not schedule.audit_is_due(TIMING, now=1500.0)
    assert schedule.audit_is_due(TIMING, now=2100.0)


def test_no_audits_when_they_are_turned_off() -> None:
    never = Timing(audit_seconds=0)
    schedule = Schedule()
    assert not any(schedule.audit_is_due(never, now=float(now)) for now in range(0, 100_000, 1000))


def test_an_audit_interrupted_by_an_error_is_done_again_at_the_next_pass() -> None:
    schedule = Schedule()
    schedule.audit_is_due(TIMING, now=0.0)
    schedule.after(PassResult({}, retry=True), TIMING, now=1000.0, audited=True)
    assert schedule.audit_is_due(TIMING, now=1010.0)


def passes_so_far() -> float:
    return sum(
        observability.REGISTRY.get_sample_value("lowlatency_reconcile_passes_total", {"outcome": outcome}) or 0.0
        for outcome in ("ok", "moving", "retry", "failed")
    )


def new_resource() -> kopf.Body:
    """A resource whose pass needs no AWS: its spec is invalid, so the pass only reports that."""
    raw: kopf.RawBody = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": "bid-filter", "uid": "0f1e2d3c", "resourceVersion": "7"},
    }
    return kopf.Body(raw)


def post_events_to_a_queue() -> None:
    """Give the passes somewhere to post their Events, as kopf's operator gives its handlers."""
    posting.settings_var.set(kopf.OperatorSettings())
    posting.event_queue_var.set(asyncio.Queue())
    posting.event_queue_loop_var.set(asyncio.get_running_loop())


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    supervisor = Supervisor(OperatorConfig(timing=Timing(tick_seconds=0.2)))
    yield supervisor
    supervisor.shutdown()


@pytest.mark.timeout(10)
async def test_a_new_resource_gets_one_pass_from_its_create_handler_not_a_second_from_its_timer(
    supervisor: Supervisor,
) -> None:
    post_events_to_a_queue()
    body, memo, before = new_resource(), kopf.Memo(), passes_so_far()
    await supervisor.reconcile_if_due(body, kopf.Patch(), memo)  # the timer's first tick, alongside the creation
    await supervisor.reconcile(body, kopf.Patch(), memo)  # the create (or resume) handler
    await asyncio.sleep(0.3)
    await supervisor.reconcile_if_due(body, kopf.Patch(), memo)  # the next tick: the create pass set the schedule
    assert passes_so_far() - before == 1


@pytest.mark.timeout(10)
async def test_a_handler_late_with_the_body_the_timers_pass_read_does_not_post_its_warning_again(
    supervisor: Supervisor,
) -> None:
    """On a busy machine the create handler may start after the timer's first pass: kopf gives it the body as it
    was before that pass wrote status, and a pass on it alone would find the refusal new and post it again."""
    post_events_to_a_queue()
    queue = posting.event_queue_var.get()
    body, memo = new_resource(), kopf.Memo()
    await supervisor.reconcile_if_due(body, kopf.Patch(), memo)
    await asyncio.sleep(0.3)
    timer_patch = kopf.Patch()
    await supervisor.reconcile_if_due(body, timer_patch, memo)  # the timer's pass, a tick later
    assert timer_patch["status"]["phase"] == "Failed"
    handler_patch = kopf.Patch()
    await supervisor.reconcile(body, handler_patch, memo)  # the late create handler, same resourceVersion
    assert [queue.get_nowait().reason for _ in range(queue.qsize())] == ["InvalidSpec"]
    assert handler_patch["status"]["phase"] == "Failed"
    # A body that saw the write is read as it is.
    newer = kopf.Body({**body, "metadata": {**body["metadata"], "resourceVersion": "8"}})
    await supervisor.reconcile(newer, kopf.Patch(), memo)
    assert queue.get_nowait().reason == "InvalidSpec"  # status of "8" has no refusal: a new one, as the body says


@pytest.mark.timeout(10)
async def test_the_timer_runs_the_first_pass_a_tick_later_when_no_handler_did(supervisor: Supervisor) -> None:
    post_events_to_a_queue()
    body, memo, before = new_resource(), kopf.Memo(), passes_so_far()
    await supervisor.reconcile_if_due(body, kopf.Patch(), memo)
    assert passes_so_far() == before
    await asyncio.sleep(0.3)
    await supervisor.reconcile_if_due(body, kopf.Patch(), memo)
    assert passes_so_far() - before == 1


def test_standalone_without_a_peering_name() -> None:
    settings = kopf.OperatorSettings()
    configure_peering(settings, OperatorConfig())
    assert settings.peering.standalone


def test_peering_is_mandatory_clusterwide_and_never_ties() -> None:
    first, second = kopf.OperatorSettings(), kopf.OperatorSettings()
    operator_config = OperatorConfig(peering=Peering(name="lowlatency", lifetime_seconds=15))
    configure_peering(first, operator_config)
    configure_peering(second, operator_config)
    for settings in (first, second):
        assert not settings.peering.standalone
        assert settings.peering.mandatory
        assert settings.peering.clusterwide
        assert settings.peering.name == "lowlatency"
        assert settings.peering.lifetime == 15
        assert PEERING_PRIORITIES[0] <= settings.peering.priority <= PEERING_PRIORITIES[1]
    assert first.peering.priority != second.peering.priority


def test_peering_of_an_operator_of_chosen_namespaces_is_namespaced() -> None:
    settings = kopf.OperatorSettings()
    operator_config = OperatorConfig(namespaces=("adtech",), peering=Peering(name="lowlatency", priority=7))
    configure_peering(settings, operator_config)
    assert not settings.peering.clusterwide
    assert settings.peering.priority == 7


def test_peering_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = cli.build_parser().parse_args(["run", "--peering", "ha", "--peering-lifetime", "20"])
    assert config.from_arguments(parsed).peering == Peering(name="ha", lifetime_seconds=20)
    monkeypatch.setenv("LOWLATENCY_PEERING", "from-env")
    monkeypatch.setenv("LOWLATENCY_AUDIT_SECONDS", "600")
    from_env = config.from_arguments(cli.build_parser().parse_args(["run"]))
    assert from_env.peering.name == "from-env"
    assert from_env.timing.audit_seconds == 600
    assert config.from_arguments(cli.build_parser().parse_args(["run", "--peering", ""])).peering.name is None


def test_the_metrics_server_runs_from_start_to_shutdown() -> None:
    supervisor = Supervisor(OperatorConfig(metrics_port=0))
    supervisor.start()
    assert supervisor.metrics is not None
    url = f"http://127.0.0.1:{supervisor.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert b"lowlatency_reconcile_passes_total" in response.read()
    supervisor.shutdown()
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url, timeout=2)


def test_no_metrics_server_without_a_port() -> None:
    supervisor = Supervisor(OperatorConfig())
    supervisor.start()
    assert supervisor.metrics is None
    supervisor.shutdown()
