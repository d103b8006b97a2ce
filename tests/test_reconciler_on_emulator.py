"""Reconciliation passes against the AWS emulator for SageMaker's and Application Auto Scaling's own rules (issue
11): what real AWS refuses or does on its own, met pass by pass (the Kubernetes side played by hand, as in
test_reconciler_aws; the emulator's clock driven by hand, so that each pass sees SageMaker where the test put it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from aws_passes import converge, create_foreign_endpoint, resource_body, run_pass
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.reconciler import ADOPT_ANNOTATION, EndpointReconciler, EndpointResource
from specs import bid_filter_spec

pytestmark = pytest.mark.timeout(60)

SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = [c for c in body["status"]["conditions"] if c["type"] == type_]
    return found


def delete_until_done(reconciler: EndpointReconciler, body: dict[str, Any], clock: ManualClock) -> None:
    for _ in range(6):
        if reconciler.delete(EndpointResource.from_body(body)).done:
            return
        clock.advance(TEST_DELAYS.delete)
    raise AssertionError("the endpoint was not deleted")


def targets(autoscaling: Any, endpoint: str) -> dict[str, tuple[int, int]]:
    """Registered variants of the endpoint and their capacity range."""
    found = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    prefix = f"endpoint/{endpoint}/variant/"
    return {
        target["ResourceId"].removeprefix(prefix): (target["MinCapacity"], target["MaxCapacity"])
        for target in found
        if target["ResourceId"].startswith(prefix)
    }


def test_an_adopted_endpoint_keeps_its_variant_name_and_its_autoscaling_follows_it(
    reconciler_on_emulator: EndpointReconciler,
    aws_emulator: AwsEmulator,
    aws_clock: ManualClock,
    sagemaker: Any,
    autoscaling: Any,
) -> None:
    create_foreign_endpoint(sagemaker, "legacy-bidder", variant_name="Primary")
    aws_clock.advance(TEST_DELAYS.create)
    body = resource_body(
        "adopter", bid_filter_spec(autoscaling=SCALING), annotations={ADOPT_ANNOTATION: "legacy-bidder"}
    )

    converge(reconciler_on_emulator, body, aws_clock.advance)

    config_name = body["status"]["endpointConfigName"]
    assert config_name.startswith("legacy-bidder-")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    assert [variant["VariantName"] for variant in config["ProductionVariants"]] == ["Primary"]
    assert aws_emulator.count("UpdateEndpoint") == 1
    assert targets(autoscaling, "legacy-bidder") == {"Primary": (2, 8)}

    delete_until_done(reconciler_on_emulator, body, aws_clock)

    (deregistered,) = aws_emulator.calls(operation="DeregisterScalableTarget")
    assert deregistered.status == 200
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_the_audit_leaves_tags_that_aws_put_on_the_endpoint_whatever_their_case(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("stacked", bid_filter_spec())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    arn = body["status"]["endpointArn"]
    aws_emulator.sagemaker_tags.add_system_tags(arn, {"AWS:CloudFormation:stack-name": "bidding"})
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "intruder", "Value": "x"}])

    audited = run_pass(reconciler_on_emulator, body, audit=True)

    tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
    assert "intruder" not in tags
    assert tags["AWS:CloudFormation:stack-name"] == "bidding"
    assert [event.reason for event in audited.events] == ["DriftRepaired"]
    assert body["status"]["phase"] == "InService"


def test_an_endpoint_beyond_the_instance_quota_waits_for_the_quota_slowly_and_says_which(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock
) -> None:
    aws_emulator.sagemaker.quotas.limit("ml.c5.xlarge", 1)
    body = resource_body("big", bid_filter_spec(instanceCount=2))

    refused = run_pass(reconciler_on_emulator, body)

    ready = condition(body, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "QuotaExceeded")
    assert "'ml.c5.xlarge for endpoint usage'" in ready["message"]
    assert "Service Quotas" in ready["message"]
    assert [(event.type, event.reason) for event in refused.events] == [("Warning", "QuotaExceeded")]
    assert (refused.retry, refused.moving) == (False, False), "asked again at the resync cadence, not quickly"
    again = run_pass(reconciler_on_emulator, body)
    assert again.events == ()
    assert aws_emulator.count("CreateEndpoint") == 2

    aws_emulator.sagemaker.quotas.limit("ml.c5.xlarge", 2)
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert body["status"]["currentInstanceCount"] == 2


def test_an_internal_error_of_application_auto_scaling_is_retried_not_rejected(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, autoscaling: Any
) -> None:
    """botocore application-autoscaling InternalServiceException: the service's fault, sent as a 400."""
    aws_emulator.faults.server_error("PutScalingPolicy", service="application-autoscaling", status=400)
    body = resource_body("scaled", bid_filter_spec(autoscaling=SCALING))

    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert aws_emulator.count("PutScalingPolicy") == 2
    assert all(c["reason"] != "AWSRejected" for c in body["status"]["conditions"])
    assert targets(autoscaling, "adtech-scaled") == {"AllTraffic": (2, 8)}


def test_a_resource_deleted_while_its_endpoint_is_created_waits_for_it_then_deletes_it(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    """SageMaker refuses DeleteEndpoint while the endpoint is Creating ("Cannot update in-progress endpoint")."""
    body = resource_body("short-lived", bid_filter_spec())
    run_pass(reconciler_on_emulator, body)
    assert sagemaker.describe_endpoint(EndpointName="adtech-short-lived")["EndpointStatus"] == "Creating"

    waiting = reconciler_on_emulator.delete(EndpointResource.from_body(body))

    assert (waiting.moving, waiting.retry, waiting.done) == (True, False, False)
    assert "Creating" in condition({"status": waiting.status}, "Ready")["message"]
    assert aws_emulator.count("DeleteEndpoint") == 0
    aws_clock.advance(TEST_DELAYS.create)
    delete_until_done(reconciler_on_emulator, body, aws_clock)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    (deleted,) = aws_emulator.calls(operation="DeleteEndpoint")
    assert deleted.status == 200


def test_autoscaling_refused_because_the_endpoint_left_in_service_is_registered_at_a_later_pass(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, autoscaling: Any
) -> None:
    """Application Auto Scaling's answer when the endpoint left InService between the pass's describe and its
    RegisterScalableTarget (SageMaker's own maintenance, a scaling activity): busy, not the spec's fault."""
    aws_emulator.faults.reject(
        "RegisterScalableTarget",
        "ValidationException",
        "Endpoint adtech-later is SystemUpdating. The status should be in 'InService' to register it as a scalable "
        "target.",
    )
    body = resource_body("later", bid_filter_spec(autoscaling=SCALING))

    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert aws_emulator.count("RegisterScalableTarget") == 2
    assert all(c["reason"] != "AWSRejected" for c in body["status"]["conditions"])
    assert targets(autoscaling, "adtech-later") == {"AllTraffic": (2, 8)}


def change_image(body: dict[str, Any], generation: int) -> None:
    body["spec"]["model"] = {**body["spec"]["model"], "image": f"{body['spec']['model']['image']}-g{generation}"}
    body["metadata"]["generation"] = generation


def test_a_rolling_deployment_whose_rollback_failed_is_ready_and_degraded_with_the_remedy_not_failed(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock
) -> None:
    rolling = {"strategy": "Rolling", "rollingBatchPercent": 50}
    body = resource_body("mixed", bid_filter_spec(deployment=rolling))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    reason = "Rolling back batch 1 failed: instance i-0b did not pass the ping health check"
    aws_emulator.sagemaker.fail_next_update("adtech-mixed", reason, outcome="rollback-failed")
    change_image(body, 2)

    for _ in range(4):
        result = run_pass(reconciler_on_emulator, body)
        aws_clock.advance(TEST_DELAYS.update + TEST_DELAYS.rollback)

    ready, degraded = condition(body, "Ready"), condition(body, "Degraded")
    assert body["status"]["phase"] != "Failed"
    assert ready["status"] == "True"
    assert (degraded["status"], degraded["reason"]) == ("True", "UpdateRollbackFailed")
    assert reason in degraded["message"]
    assert "deployment-guardrails-rolling.html" in degraded["message"]
    assert result.events == ()
    assert aws_emulator.count("UpdateEndpoint") == 1


def test_an_update_that_leaves_the_endpoint_failed_is_reported_and_not_retried(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock
) -> None:
    body = resource_body("broken", bid_filter_spec())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    aws_emulator.sagemaker.fail_next_update("adtech-broken", "Failed to provision the new fleet", outcome="failed")
    change_image(body, 2)

    for _ in range(4):
        run_pass(reconciler_on_emulator, body)
        aws_clock.advance(TEST_DELAYS.update)

    ready = condition(body, "Ready")
    assert (body["status"]["phase"], ready["status"], ready["reason"]) == ("Failed", "False", "EndpointFailed")
    assert "Failed to provision the new fleet" in ready["message"]
    assert aws_emulator.count("UpdateEndpoint") == 1
    assert aws_emulator.count("DeleteEndpoint") == 0


def test_a_deleted_serving_config_of_the_operators_is_created_again_so_that_the_rollout_goes_on(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("orphaned", bid_filter_spec(instanceType="ml.c6i.xlarge"))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    serving = body["status"]["endpointConfigName"]
    sagemaker.delete_endpoint_config(EndpointConfigName=serving)
    change_image(body, 2)

    repairing = run_pass(reconciler_on_emulator, body)
    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert ("Warning", "DriftRepaired") in [(event.type, event.reason) for event in repairing.events]
    assert body["status"]["observedGeneration"] == 2
    assert body["status"]["endpointConfigName"] != serving
    recreated = [call for call in aws_emulator.calls(operation="CreateEndpointConfig") if call.resource == serving]
    assert len(recreated) == 2  # the first creation, and the one that put it back
    assert aws_emulator.count("UpdateEndpoint") == 1


def test_a_deleted_serving_config_the_operator_cannot_rebuild_is_reported_and_no_update_is_sent(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    create_foreign_endpoint(sagemaker, "legacy-pricer")
    aws_clock.advance(TEST_DELAYS.create)
    sagemaker.delete_endpoint_config(EndpointConfigName="config-of-legacy-pricer")
    body = resource_body("pricer", bid_filter_spec(), annotations={ADOPT_ANNOTATION: "legacy-pricer"})

    for _ in range(4):
        run_pass(reconciler_on_emulator, body)

    degraded = condition(body, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "LiveConfigMissing")
    assert "config-of-legacy-pricer" in degraded["message"]
    assert condition(body, "Ready")["status"] == "True"
    assert aws_emulator.count("UpdateEndpoint") == 0


def test_the_audit_finds_the_serving_config_deleted_and_creates_it_again(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("audited", bid_filter_spec())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    serving = body["status"]["endpointConfigName"]
    sagemaker.delete_endpoint_config(EndpointConfigName=serving)

    audited = run_pass(reconciler_on_emulator, body, audit=True)

    assert [event.reason for event in audited.events] == ["DriftRepaired"]
    assert serving in audited.events[0].message
    assert sagemaker.describe_endpoint_config(EndpointConfigName=serving)["ProductionVariants"]
    assert (body["status"]["phase"], audited.retry) == ("InService", False)


def test_a_failed_endpoint_replaced_under_eventual_consistency_is_not_reported_as_deleted_outside(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, autoscaling: Any
) -> None:
    """CreateEndpoint may not see a config created a moment ago, nor PutScalingPolicy a target just registered: the
    operator asks again, and its own replacement of a failed endpoint is not mistaken for a deletion outside it."""
    aws_emulator.sagemaker.delays = replace(TEST_DELAYS, config_visibility=0.5, target_visibility=0.5)
    aws_emulator.sagemaker.fail_next_create(
        "adtech-phoenix", "The primary container did not pass the ping health check"
    )
    body = resource_body("phoenix", bid_filter_spec(autoscaling=SCALING))
    for _ in range(4):
        run_pass(reconciler_on_emulator, body)
        aws_clock.advance(TEST_DELAYS.create)
    assert body["status"]["phase"] == "Failed"

    change_image(body, 2)
    events = []
    for _ in range(10):
        result = run_pass(reconciler_on_emulator, body)
        events += [(event.type, event.reason) for event in result.events]
        if body["status"].get("phase") == "InService" and not result.moving:
            break
        aws_clock.advance(0.5)

    assert body["status"]["observedGeneration"] == 2
    assert ("Warning", "DriftRepaired") not in events
    assert ("Normal", "Recreating") in events
    assert "ValidationException" in [call.error_code for call in aws_emulator.calls(operation="CreateEndpoint")]
    first_policy, *_ = aws_emulator.calls(operation="PutScalingPolicy")
    assert first_policy.error_code == "ObjectNotFoundException"
    assert targets(autoscaling, "adtech-phoenix") == {"AllTraffic": (2, 8)}
