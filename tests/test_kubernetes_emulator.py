"""The Kubernetes API emulator behaves as kube-apiserver does where the operator, kopf and kubectl rely on it.

Everything goes over real HTTP: raw requests (to see status codes and Status objects as clients see them), the
``kubernetes`` client, and the real kubectl.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import kopf
import kubernetes
import pytest
import yaml

from fixtures_kubernetes import ROOT, Kubectl
from kubernetes_requests import Http
from lowlatency.emulators.kubernetes import KubernetesEmulator
from lowlatency.emulators.lists import label_selector_matches

JSON = dict[str, Any]
ENDPOINTS = "/apis/lowlatency.io/v1alpha1/namespaces/adtech/lowlatencyendpoints"
MERGE = "application/merge-patch+json"
EXAMPLE: JSON = yaml.safe_load((ROOT / "examples" / "bid-filter.yaml").read_text())

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api(kubernetes_emulator: KubernetesEmulator) -> Http:
    return Http(kubernetes_emulator.url)


@pytest.fixture
def adtech(api: Http, lowlatency_crd: JSON) -> Http:
    """The CRD installed and the ``adtech`` namespace created: ready for LowLatencyEndpoints."""
    api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "adtech"}})
    return api


def endpoint(name: str = "bid-filter", **spec: Any) -> JSON:
    body: JSON = json.loads(json.dumps(EXAMPLE))
    body["metadata"] = {"name": name}
    body["spec"] |= spec
    return body


def events_until(stream: Iterator[JSON], count: int) -> list[JSON]:
    return [event for event, _ in zip(stream, range(count), strict=False)]


# --- serving custom resources ---


def test_deleting_the_crd_stops_serving_the_resource_and_deletes_its_objects(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/lowlatencyendpoints.lowlatency.io"
    adtech.ok("DELETE", crd_path)
    assert adtech.request("GET", "/apis/lowlatency.io/v1alpha1")[0] == 404
    assert adtech.request("GET", f"{ENDPOINTS}/bid-filter")[0] == 404


def test_unknown_paths_and_objects_answer_404_status_objects(adtech: Http) -> None:
    code, status = adtech.request("GET", f"{ENDPOINTS}/missing")
    assert code == 404
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["message"] == 'lowlatencyendpoints.lowlatency.io "missing" not found'
    assert status["details"]["name"] == "missing"
    assert adtech.request("GET", "/apis/example.com/v1/namespaces/adtech/widgets")[0] == 404
    assert adtech.request("GET", f"{ENDPOINTS}/missing/scale")[0] == 404
    assert adtech.request("GET", "/openapi/v2")[0] == 404


# --- creation ---


def test_create_sets_server_metadata_drops_status_and_applies_schema_defaults(adtech: Http) -> None:
    body = endpoint() | {"status": {"phase": "InService"}}
    body["metadata"] |= {"uid": "forged", "resourceVersion": "999", "generation": 7}
    created = adtech.ok("POST", ENDPOINTS, body)

    metadata = created["metadata"]
    assert metadata["namespace"] == "adtech"
    assert metadata["uid"] != "forged"
    assert metadata["generation"] == 1
    assert metadata["creationTimestamp"].endswith("Z")
    assert int(metadata["resourceVersion"]) > 0
    assert metadata["resourceVersion"] != "999"
    assert "status" not in created
    assert created["spec"]["deletionPolicy"] == "Delete"
    assert created["spec"]["deployment"]["strategy"] == "AllAtOnce"
    assert adtech.ok("GET", f"{ENDPOINTS}/bid-filter") == created


def test_generate_name_and_the_namespace_of_the_url(adtech: Http) -> None:
    body = endpoint()
    body["metadata"] = {"generateName": "bidder-"}
    created = adtech.ok("POST", ENDPOINTS, body)
    assert created["metadata"]["name"].startswith("bidder-")
    assert len(created["metadata"]["name"]) == len("bidder-") + 5

    elsewhere = endpoint("other")
    elsewhere["metadata"]["namespace"] = "default"
    code, status = adtech.request("POST", ENDPOINTS, elsewhere)
    assert (code, status["reason"]) == (400, "BadRequest")


def test_create_conflicts_and_missing_namespaces(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    code, status = adtech.request("POST", ENDPOINTS, endpoint())
    assert (code, status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'lowlatencyendpoints.lowlatency.io "bid-filter" already exists'

    code, status = adtech.request("POST", ENDPOINTS.replace("adtech", "nowhere"), endpoint())
    assert (code, status["reason"], status["message"]) == (404, "NotFound", 'namespaces "nowhere" not found')


def test_invalid_objects_are_refused_with_the_fields_named(adtech: Http) -> None:
    body = endpoint(instanceCount=0, instanceType="c5.xlarge")
    del body["spec"]["model"]["image"]
    code, status = adtech.request("POST", ENDPOINTS, body)
    assert (code, status["reason"]) == (422, "Invalid")
    causes = {cause["field"]: cause for cause in status["details"]["causes"]}
    assert set(causes) == {"spec.instanceCount", "spec.instanceType", "spec.model.image", "<nil>"}
    assert causes["spec.model.image"]["message"] == "Required value"
    assert causes["<nil>"]["message"] == (  # a missing field: kube-apiserver runs no CEL rule and says so
        'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the '
        "existing errors to complete validation"
    )
    assert causes["spec.instanceCount"]["message"] == (
        "Invalid value: 0: spec.instanceCount in body should be greater than or equal to 1"
    )
    assert status["message"].startswith('LowLatencyEndpoint.lowlatency.io "bid-filter" is invalid: [')
    assert adtech.request("GET", f"{ENDPOINTS}/bid-filter")[0] == 404

    code, status = adtech.request("POST", ENDPOINTS, endpoint(instanceCount="two"))
    assert status["details"]["causes"][0]["message"] == (
        'Invalid value: "string": spec.instanceCount in body must be of type integer: "string"'
    )


def test_unknown_fields_are_pruned_or_refused_when_strict(adtech: Http) -> None:
    created = adtech.ok("POST", ENDPOINTS, endpoint(surprise=True) | {"junk": 1})
    assert "surprise" not in created["spec"]
    assert "junk" not in created
    code, status = adtech.request("POST", ENDPOINTS, endpoint("strict", surprise=True), fieldValidation="Strict")
    assert code == 400
    assert 'unknown field "spec.surprise"' in status["message"]

    status_patch = {"status": {"phase": "Creating", "invented": 1, "kopf": {"progress": {"anything": {"x": 1}}}}}
    patched = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter/status", status_patch, MERGE)
    assert "invented" not in patched["status"]
    assert patched["status"]["kopf"] == {"progress": {"anything": {"x": 1}}}


def test_dry_run_stores_nothing(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint(), dryRun="All")
    assert adtech.request("GET", f"{ENDPOINTS}/bid-filter")[0] == 404


# --- updates ---


def test_status_subresource_separates_status_from_the_rest(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())

    patched = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", {"status": {"phase": "Failed"}}, MERGE)
    assert "status" not in patched

    through_status = {
        "status": {"phase": "InService"},
        "spec": {"instanceCount": 5},
        "metadata": {"labels": {"a": "b"}},
    }
    patched = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter/status", through_status, MERGE)
    assert patched["status"]["phase"] == "InService"
    assert patched["spec"]["instanceCount"] == 2
    assert "labels" not in patched["metadata"]
    assert patched["metadata"]["generation"] == 1

    patched = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", {"spec": {"instanceCount": 3}, "status": None}, MERGE)
    assert patched["status"] == {"phase": "InService"}


def test_generation_counts_spec_changes_only(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    path = f"{ENDPOINTS}/bid-filter"
    metadata_only = {"metadata": {"labels": {"team": "bidding"}, "finalizers": ["example.com/hold"]}}
    assert adtech.ok("PATCH", path, metadata_only, MERGE)["metadata"]["generation"] == 1
    assert adtech.ok("PATCH", f"{path}/status", {"status": {"phase": "Creating"}}, MERGE)["metadata"]["generation"] == 1
    assert adtech.ok("PATCH", path, {"spec": {"instanceCount": 3}}, MERGE)["metadata"]["generation"] == 2


def test_resource_versions_grow_with_each_write_and_not_on_no_op_writes(adtech: Http) -> None:
    first = adtech.ok("POST", ENDPOINTS, endpoint())["metadata"]["resourceVersion"]
    second = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", {"spec": {"instanceCount": 3}}, MERGE)
    assert int(second["metadata"]["resourceVersion"]) > int(first)
    unchanged = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", {"spec": {"instanceCount": 3}}, MERGE)
    assert unchanged["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    listed = adtech.ok("GET", ENDPOINTS)
    assert listed["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]


def test_stale_resource_versions_conflict(adtech: Http) -> None:
    created = adtech.ok("POST", ENDPOINTS, endpoint())
    stale = created["metadata"]["resourceVersion"]
    adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", {"metadata": {"labels": {"x": "1"}}}, MERGE)

    patch = {"metadata": {"resourceVersion": stale}, "spec": {"instanceCount": 4}}
    code, status = adtech.request("PATCH", f"{ENDPOINTS}/bid-filter", patch, MERGE)
    assert (code, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]
    code, status = adtech.request("PUT", f"{ENDPOINTS}/bid-filter", created)
    assert (code, status["reason"]) == (409, "Conflict")

    current = adtech.ok("GET", f"{ENDPOINTS}/bid-filter")
    replaced = adtech.ok("PUT", f"{ENDPOINTS}/bid-filter", current | {"spec": current["spec"] | {"instanceCount": 4}})
    assert replaced["spec"]["instanceCount"] == 4


def test_json_patch_with_a_resource_version_test_as_kopf_sends_it(adtech: Http) -> None:
    created = adtech.ok("POST", ENDPOINTS, endpoint())
    version = created["metadata"]["resourceVersion"]
    operations = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": version},
        {"op": "add", "path": "/metadata/finalizers", "value": ["lowlatency.io/finalizer"]},
    ]
    json_patch = "application/json-patch+json"
    patched = adtech.ok("PATCH", f"{ENDPOINTS}/bid-filter", operations, json_patch)
    assert patched["metadata"]["finalizers"] == ["lowlatency.io/finalizer"]

    code, status = adtech.request("PATCH", f"{ENDPOINTS}/bid-filter", operations, json_patch)
    assert (code, status["reason"]) == (422, "Invalid")


def test_strategic_merge_patch_is_refused_for_custom_resources(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    smp = "application/strategic-merge-patch+json"
    code, status = adtech.request("PATCH", f"{ENDPOINTS}/bid-filter", {"spec": {"instanceCount": 3}}, smp)
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
    labelled = adtech.ok("PATCH", "/api/v1/namespaces/adtech", {"metadata": {"labels": {"a": "b"}}}, smp)
    assert labelled["metadata"]["labels"] == {"a": "b"}


# --- deletion ---


def test_finalizers_hold_a_deleted_object_until_they_are_removed(adtech: Http) -> None:
    body = endpoint()
    body["metadata"]["finalizers"] = ["lowlatency.io/finalizer"]
    created = adtech.ok("POST", ENDPOINTS, body)
    path = f"{ENDPOINTS}/bid-filter"
    events = adtech.watch(ENDPOINTS, resourceVersion=created["metadata"]["resourceVersion"], timeoutSeconds="5")

    deleting = adtech.ok("DELETE", path)
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    assert deleting["metadata"]["generation"] == 2
    assert adtech.ok("GET", path)["metadata"]["deletionTimestamp"] == deleting["metadata"]["deletionTimestamp"]
    assert adtech.ok("DELETE", path)["metadata"]["resourceVersion"] == deleting["metadata"]["resourceVersion"]

    more = {"metadata": {"finalizers": ["lowlatency.io/finalizer", "example.com/late"]}}
    code, status = adtech.request("PATCH", path, more, MERGE)
    assert (code, status["reason"]) == (422, "Invalid")
    assert "no new finalizers can be added" in status["message"]

    adtech.ok("PATCH", path, {"metadata": {"finalizers": None}}, MERGE)
    assert adtech.request("GET", path)[0] == 404
    assert [event["type"] for event in events_until(events, 2)] == ["MODIFIED", "DELETED"]


def test_delete_preconditions(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    code, status = adtech.request("DELETE", f"{ENDPOINTS}/bid-filter", {"preconditions": {"uid": "someone-else"}})
    assert (code, status["reason"]) == (409, "Conflict")
    assert adtech.request("DELETE", f"{ENDPOINTS}/missing")[0] == 404


def test_delete_collection_deletes_what_the_selector_matches(adtech: Http) -> None:
    for name, tier in (("a", "gold"), ("b", "silver"), ("c", "gold")):
        body = endpoint(name)
        body["metadata"]["labels"] = {"tier": tier}
        adtech.ok("POST", ENDPOINTS, body)
    deleted = adtech.ok("DELETE", ENDPOINTS, labelSelector="tier=gold")
    assert deleted["kind"] == "LowLatencyEndpointList"
    assert [item["metadata"]["name"] for item in deleted["items"]] == ["a", "c"]
    assert [item["metadata"]["name"] for item in adtech.ok("GET", ENDPOINTS)["items"]] == ["b"]


def test_deleting_a_namespace_deletes_its_objects_and_waits_for_their_finalizers(adtech: Http) -> None:
    held = endpoint("held")
    held["metadata"]["finalizers"] = ["lowlatency.io/finalizer"]
    adtech.ok("POST", ENDPOINTS, held)
    adtech.ok("POST", ENDPOINTS, endpoint("free"))
    event = {"metadata": {"name": "created"}, "involvedObject": {"kind": "LowLatencyEndpoint", "name": "free"}}
    adtech.ok("POST", "/api/v1/namespaces/adtech/events", event | {"reason": "Created", "type": "Normal"})

    terminating = adtech.ok("DELETE", "/api/v1/namespaces/adtech")
    assert adtech.request("GET", "/apis/events.k8s.io/v1/namespaces/adtech/events/created")[0] == 404
    assert terminating["status"]["phase"] == "Terminating"
    assert adtech.request("GET", f"{ENDPOINTS}/free")[0] == 404
    assert adtech.ok("GET", f"{ENDPOINTS}/held")["metadata"]["deletionTimestamp"]
    code, status = adtech.request("POST", ENDPOINTS, endpoint("late"))
    assert (code, status["reason"]) == (403, "Forbidden")

    adtech.ok("PATCH", f"{ENDPOINTS}/held", {"metadata": {"finalizers": []}}, MERGE)
    assert adtech.request("GET", "/api/v1/namespaces/adtech")[0] == 404


# --- lists and watches ---


def test_lists_have_kind_api_version_resource_version_selectors_and_pages(adtech: Http) -> None:
    for name, tier in (("a", "gold"), ("b", "silver"), ("c", "gold")):
        body = endpoint(name)
        body["metadata"]["labels"] = {"tier": tier}
        adtech.ok("POST", ENDPOINTS, body)
    listed = adtech.ok("GET", ENDPOINTS)
    assert (listed["kind"], listed["apiVersion"]) == ("LowLatencyEndpointList", "lowlatency.io/v1alpha1")
    assert listed["metadata"]["resourceVersion"]
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a", "b", "c"]

    def names(**params: str) -> list[str]:
        return [item["metadata"]["name"] for item in adtech.ok("GET", ENDPOINTS, **params)["items"]]

    assert names(labelSelector="tier=gold") == ["a", "c"]
    assert names(labelSelector="tier notin (gold)") == ["b"]
    assert names(labelSelector="!tier") == []
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.name!=b") == ["a", "c"]
    first = adtech.ok("GET", ENDPOINTS, limit="2")
    assert [item["metadata"]["name"] for item in first["items"]] == ["a", "b"]
    assert names(limit="2", **{"continue": first["metadata"]["continue"]}) == ["c"]
    everywhere = adtech.ok("GET", "/apis/lowlatency.io/v1alpha1/lowlatencyendpoints")
    assert len(everywhere["items"]) == 3


def test_watch_from_a_list_resource_version_loses_nothing_and_replays_nothing(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint("before"))
    listed_version = adtech.ok("GET", ENDPOINTS)["metadata"]["resourceVersion"]
    adtech.ok("POST", ENDPOINTS, endpoint("between"))  # after the list, before the watch

    events = adtech.watch(ENDPOINTS, resourceVersion=listed_version, timeoutSeconds="5")
    first = next(events)
    adtech.ok("POST", ENDPOINTS, endpoint("after"))
    second = next(events)
    assert [(event["type"], event["object"]["metadata"]["name"]) for event in (first, second)] == [
        ("ADDED", "between"),
        ("ADDED", "after"),
    ]


def test_watch_without_a_resource_version_starts_with_what_exists(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint("existing"))
    events = list(adtech.watch(ENDPOINTS, timeoutSeconds="1"))
    assert [(event["type"], event["object"]["metadata"]["name"]) for event in events] == [("ADDED", "existing")]


def test_watch_bookmarks_initial_events_and_timeout(adtech: Http) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint("existing"))
    params = {"allowWatchBookmarks": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"}
    events = list(adtech.watch(ENDPOINTS, timeoutSeconds="2.5", **params))
    assert events[0]["type"] == "ADDED"
    end = events[1]
    assert end["type"] == "BOOKMARK"
    assert end["object"]["kind"] == "LowLatencyEndpoint"
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    periodic = [event["type"] for event in events[2:]]  # every second here, for the 2.5 seconds of the watch
    assert periodic in (["BOOKMARK"], ["BOOKMARK", "BOOKMARK"])  # the second one may be late on a busy machine


def test_watch_of_a_compacted_resource_version_is_gone() -> None:
    with KubernetesEmulator(history_limit=2) as emulator:
        api = Http(emulator.url)
        for name in ("a", "b", "c"):
            api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        (event,) = api.watch("/api/v1/namespaces", resourceVersion="1")
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410


def test_a_watch_sees_writes_from_other_threads_in_order(adtech: Http) -> None:
    start = adtech.ok("GET", ENDPOINTS)["metadata"]["resourceVersion"]
    events = adtech.watch(ENDPOINTS, resourceVersion=start, timeoutSeconds="5")
    writer = threading.Thread(
        target=lambda: [adtech.ok("POST", ENDPOINTS, endpoint(f"e{index}")) for index in range(5)]
    )
    writer.start()
    seen = events_until(events, 5)
    writer.join()
    versions = [int(event["object"]["metadata"]["resourceVersion"]) for event in seen]
    assert versions == sorted(versions)
    assert [event["object"]["metadata"]["name"] for event in seen] == [f"e{index}" for index in range(5)]


def test_malformed_list_and_watch_parameters_answer_400(adtech: Http) -> None:
    assert adtech.request("GET", ENDPOINTS, fieldSelector="nonsense")[0] == 400
    assert adtech.request("GET", ENDPOINTS, watch="true", fieldSelector="nonsense")[0] == 400
    assert adtech.request("GET", ENDPOINTS, watch="true", timeoutSeconds="soon")[0] == 400
    assert adtech.request("GET", ENDPOINTS, limit="1", **{"continue": "not-a-token"})[0] == 400


def test_faults_injected_with_kmock_reactions_change_nothing(
    adtech: Http, kubernetes_emulator: KubernetesEmulator
) -> None:
    adtech.ok("POST", ENDPOINTS, endpoint())
    failure = {"kind": "Status", "apiVersion": "v1", "code": 503, "reason": "ServiceUnavailable"}
    lowlatency = kmock.resource("lowlatency.io", "v1alpha1", "lowlatencyendpoints")
    kubernetes_emulator.api["patch", lowlatency] << 503 << failure
    code, status = adtech.request("PATCH", f"{ENDPOINTS}/bid-filter", {"spec": {"instanceCount": 3}}, MERGE)
    assert (code, status["reason"]) == (503, "ServiceUnavailable")
    assert adtech.ok("GET", f"{ENDPOINTS}/bid-filter")["spec"]["instanceCount"] == 2


# --- other resources ---


def test_events_are_one_store_seen_through_both_events_apis(api: Http) -> None:
    involved = {"kind": "Pod", "namespace": "default", "name": "p"}
    core = {
        "metadata": {"name": "core"},
        "involvedObject": involved,
        "reason": "Hello",
        "message": "hi",
        "type": "Normal",
    }
    created = api.ok("POST", "/api/v1/namespaces/default/events", core)
    seen = api.ok("GET", "/apis/events.k8s.io/v1/namespaces/default/events/core")
    assert (seen["apiVersion"], seen["regarding"], seen["note"]) == ("events.k8s.io/v1", involved, "hi")
    assert seen["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    modern = {"metadata": {"name": "modern"}, "regarding": involved, "note": "hey", "reason": "Hi", "type": "Normal"}
    api.ok("POST", "/apis/events.k8s.io/v1/namespaces/default/events", modern | {"action": "Greet"})
    listed = {item["metadata"]["name"]: item for item in api.ok("GET", "/api/v1/events")["items"]}
    assert (listed["modern"]["message"], listed["modern"]["involvedObject"]) == ("hey", involved)

    api.ok("DELETE", "/apis/events.k8s.io/v1/namespaces/default/events/core")
    assert api.request("GET", "/api/v1/namespaces/default/events/core")[0] == 404


def test_leases_and_namespaces(api: Http) -> None:
    lease = {"metadata": {"name": "lowlatency-operator"}, "spec": {"holderIdentity": "me"}}
    api.ok("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", lease)
    assert api.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/lowlatency-operator")["spec"] == {
        "holderIdentity": "me"
    }
    names = [item["metadata"]["name"] for item in api.ok("GET", "/api/v1/namespaces")["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_names_must_be_rfc_1123(api: Http, kubectl: Kubectl) -> None:
    refused = kubectl("create", "namespace", "Bad_Name", check=False)
    assert 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label' in refused.stderr
    code, status = api.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a..b"}})
    assert (code, status["reason"]) == (422, "Invalid")
    assert "RFC 1123 subdomain" in status["message"]
    api.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "lowlatency.operator-1"}})


# --- clients: the kubernetes library and kubectl ---


def test_the_kubernetes_client_works_against_it(adtech: Http, kubeconfig: Path) -> None:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    objects = kubernetes.client.CustomObjectsApi(client)
    group = ("lowlatency.io", "v1alpha1", "adtech", "lowlatencyendpoints")
    objects.create_namespaced_custom_object(*group, endpoint())
    objects.patch_namespaced_custom_object_status(*group, "bid-filter", {"status": {"phase": "InService"}})
    fetched: JSON = objects.get_namespaced_custom_object(*group, "bid-filter")  # type: ignore[assignment]
    assert fetched["status"] == {"phase": "InService"}
    with pytest.raises(kubernetes.client.ApiException) as missing:
        objects.get_namespaced_custom_object(*group, "missing")
    assert missing.value.status == 404
    namespaces = kubernetes.client.CoreV1Api(client).list_namespace()
    assert "adtech" in [namespace.metadata.name for namespace in namespaces.items if namespace.metadata]
    client.close()


BID_FILTER = ("lle", "bid-filter", "-n", "adtech")


@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_apply_get_patch_and_delete_as_users_do(
    kubectl: Kubectl, kubernetes_emulator: KubernetesEmulator
) -> None:
    example = str(ROOT / "examples" / "bid-filter.yaml")
    kubectl("create", "namespace", "adtech")
    assert "created" in kubectl("apply", "-f", example).stdout
    assert "unchanged" in kubectl("apply", "-f", example).stdout

    status = '{"status": {"phase": "InService", "currentInstanceCount": 2, "endpointName": "adtech-bid-filter"}}'
    kubectl("patch", *BID_FILTER, "--type", "merge", "--subresource", "status", "-p", status)
    header, row = kubectl("get", "lle", "-n", "adtech").stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "INSTANCE", "TYPE", "INSTANCES", "P99", "MS", "AGE"]
    assert row.split()[:4] == ["bid-filter", "InService", "ml.c5.xlarge", "2"]
    assert "adtech-bid-filter" in kubectl("get", "lle", "-n", "adtech", "-o", "wide").stdout
    shown = yaml.safe_load(kubectl("get", *BID_FILTER, "-o", "yaml").stdout)
    assert shown["spec"]["instanceCount"] == 2

    refused = kubectl("patch", *BID_FILTER, "-p", '{"spec":{"instanceCount":3}}', check=False)
    assert "strategic-merge-patch+json is not supported" in refused.stderr
    invalid = kubectl("patch", *BID_FILTER, "--type", "merge", "-p", '{"spec":{"instanceCount":0}}', check=False)
    assert "spec.instanceCount: Invalid value: 0" in invalid.stderr

    changed = yaml.safe_load(Path(example).read_text())
    changed["spec"]["instanceCount"] = 3
    assert "configured" in kubectl("apply", "-f", "-", input=yaml.safe_dump(changed)).stdout
    applied = json.loads(kubectl("get", *BID_FILTER, "-o", "json").stdout)
    assert (applied["spec"]["instanceCount"], applied["metadata"]["generation"]) == (3, 2)
    assert applied["status"]["phase"] == "InService"

    changed["spec"]["surprise"] = 1
    strict = kubectl("apply", "-f", "-", input=yaml.safe_dump(changed), check=False)
    assert 'unknown field "spec.surprise"' in strict.stderr

    kubectl("delete", "-f", example, "--timeout=20s")
    assert kubernetes_emulator.get("lowlatency.io/v1alpha1/lowlatencyendpoints", "adtech", "bid-filter") is None
    assert "NotFound" in kubectl("get", *BID_FILTER, check=False).stderr


@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_delete_waits_for_finalizers(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "adtech")
    held = yaml.safe_load((ROOT / "examples" / "bid-filter.yaml").read_text())
    held["metadata"]["finalizers"] = ["lowlatency.io/finalizer"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump(held))
    timed_out = kubectl("delete", *BID_FILTER, "--timeout=2s", check=False)
    assert timed_out.returncode != 0
    assert "timed out waiting" in timed_out.stderr
    kubectl("patch", *BID_FILTER, "--type", "json", "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    assert "NotFound" in kubectl("get", *BID_FILTER, check=False).stderr


# --- pure helpers ---


def test_label_selector_forms() -> None:
    labels = {"tier": "gold", "team": "bidding"}
    assert label_selector_matches("tier=gold,team in (bidding, ads)", labels)
    assert label_selector_matches("tier,!missing", labels)
    assert not label_selector_matches("tier!=gold", labels)
    assert not label_selector_matches("missing in (x)", labels)
    assert label_selector_matches("missing notin (x)", labels)


# --- kopf itself, embedded, against the emulator ---


async def test_an_embedded_kopf_operator_runs_its_handlers_and_releases_deleted_objects(
    adtech: Http, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    registry = kopf.OperatorRegistry()
    resource = ("lowlatency.io", "v1alpha1", "lowlatencyendpoints")
    deleted: list[str] = []

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.create(*resource, registry=registry)
    def create(patch: kopf.Patch, **_: Any) -> None:
        patch.status["phase"] = "Creating"

    @kopf.on.delete(*resource, registry=registry)
    def delete(name: str, **_: Any) -> None:
        deleted.append(name)

    async def until(probe: Callable[[], Any]) -> Any:
        for _ in range(200):  # 20 seconds
            if result := await asyncio.to_thread(probe):
                return result
            await asyncio.sleep(0.1)
        raise AssertionError("timed out")

    stop = asyncio.Event()
    # Started in the test body: kopf.operator() cancels the tasks its loop got before it (the emulator has its own).
    operator = asyncio.create_task(kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop))
    try:
        await asyncio.to_thread(adtech.ok, "POST", ENDPOINTS, endpoint())
        handled = await until(lambda: (obj := adtech.ok("GET", f"{ENDPOINTS}/bid-filter")).get("status") and obj)
        assert handled["status"]["phase"] == "Creating"
        assert handled["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]

        await asyncio.to_thread(adtech.ok, "DELETE", f"{ENDPOINTS}/bid-filter")
        await until(lambda: adtech.request("GET", f"{ENDPOINTS}/bid-filter")[0] == 404)
        assert deleted == ["bid-filter"]
    finally:
        stop.set()
        await asyncio.wait_for(operator, 20)


async def test_in_the_callers_event_loop_with_a_crd_installed_in_process() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "lowlatencyendpoints.lowlatency.io.yaml").read_text())
    async with KubernetesEmulator() as emulator, aiohttp.ClientSession(emulator.url) as session:
        installed = emulator.install_crd(crd)
        assert installed["metadata"]["generation"] == 1
        async with session.get("/apis/lowlatency.io/v1alpha1") as response:
            assert response.status == 200
            assert (await response.json())["resources"][0]["name"] == "lowlatencyendpoints"
        stored = emulator.get("apiextensions.k8s.io/v1/customresourcedefinitions", None, crd["metadata"]["name"])
        assert stored is not None
        assert stored["status"]["acceptedNames"]["shortNames"] == ["lle"]


def test_the_request_log_and_object_versions_stay_bounded_however_many_requests() -> None:
    with KubernetesEmulator(request_log_limit=20, versions_limit=3) as emulator:
        api = Http(emulator.url)
        api.ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c"}, "data": {"n": "0"}})
        for index in range(1, 60):
            api.ok("PATCH", "/api/v1/namespaces/default/configmaps/c", {"data": {"n": str(index)}}, MERGE)
        configmaps = kmock.resource("", "v1", "configmaps")
        failure = {"kind": "Status", "apiVersion": "v1", "code": 503, "reason": "ServiceUnavailable"}
        fault = emulator.api["get", configmaps] << 503 << failure  # a test's own reaction still sees its requests
        for _ in range(30):
            assert api.request("GET", "/api/v1/namespaces/default/configmaps/c")[0] == 503
        history = emulator.api.objects[configmaps, "default", "c"].history
        assert len(list(emulator.api)) == len(list(fault)) == 20
        assert [version["data"]["n"] for version in history if version is not None] == ["57", "58", "59"]
