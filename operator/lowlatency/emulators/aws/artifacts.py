"""Model artifacts in the emulator's S3 (moto's S3 backend), which SageMaker's CreateModel looks for.

Real CreateModel checks that the ``ModelDataUrl`` of each container names an S3 object that exists, and refuses the
model otherwise with ``ValidationException: Could not find model data at s3://<bucket>/<key>.`` (the text users
report). Source: botocore sagemaker ContainerDefinition.ModelDataUrl ("the S3 path where the model artifacts ... are
stored"). Tests and the demo put the artifacts their specs name here, as a user uploads model.tar.gz before
deploying it; the emulator can also keep a list of artifacts that every reset puts back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from lowlatency.emulators.aws.gateway import validation_error

# What a test artifact holds: SageMaker only checks that the object is there; the model server does not read it.
PLACEHOLDER: Final = b"model.tar.gz of the AWS emulator"


def _backend() -> Any:
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def artifact_exists(url: str) -> bool:
    bucket, key = split_s3_url(url)
    try:
        return _backend().head_object(bucket, key) is not None
    except MissingBucket:
        return False


def put_artifact(url: str, region: str, body: bytes = PLACEHOLDER) -> None:
    """Upload an object to ``s3://bucket/key`` as a user does before CreateModel, making the bucket if need be."""
    bucket, key = split_s3_url(url)
    backend = _backend()
    if bucket not in backend.buckets:
        backend.create_bucket(bucket, region)
    backend.put_object(bucket, key, body)


def require_model_data(params: Mapping[str, Any]) -> None:
    """CreateModel's check of the artifacts its containers name (``s3://`` URLs; an https:// URL is not checked)."""
    containers = [params.get("PrimaryContainer") or {}, *(params.get("Containers") or [])]
    for container in containers:
        url = str(container.get("ModelDataUrl") or "")
        if url.startswith("s3://") and not artifact_exists(url):
            raise validation_error(f"Could not find model data at {url}.")
