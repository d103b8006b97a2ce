"""Where InvokeEndpoint requests go and how they are signed, resolved by botocore exactly as boto3 would.

The runtime URL comes from a ``sagemaker-runtime`` client's ``meta.endpoint_url``, so ``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, the shared config file and an explicit URL (the VPC endpoint's DNS name)
all behave as they do for boto3; credentials come from the same session's provider chain (environment, shared
files, SSO, IRSA web identity, container and instance metadata), refreshed when they are about to expire.

Requests are signed with botocore's :class:`~botocore.auth.SigV4Auth`. A SigV4 signature covers the method, path,
the signed headers (host, content type, ``X-Amz-Date``, the target variant if any) and the body's hash, and
``X-Amz-Date`` has a resolution of one second, so every request with the same payload within one second carries the
same signature: the signer keeps the complete request bytes per payload and signs again only when the second (or the
payload) changes.
"""

from __future__ import annotations

import calendar
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import botocore.httpsession
import botocore.session

from lowlatency.benchmark.payloads import Payload

USER_AGENT = "lowlatency-operator-benchmark"
#: InvokeEndpoint's TargetVariant, the production variant to send a request to instead of one chosen by the weights
#: (botocore sagemaker-runtime InvokeEndpointInput.TargetVariant: a header of this name).
TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    """One endpoint's InvokeEndpoint URL, with what it takes to sign and connect."""

    endpoint_name: str
    url: str
    region: str
    signing_name: str
    credentials: botocore.credentials.Credentials
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    variant: str | None = None
    """InvokeEndpoint's TargetVariant: every request goes to this variant (None: the endpoint routes by weight)."""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or _DEFAULT_PORTS[parts.scheme]

    @property
    def host_header(self) -> str:
        """The Host header as SigV4 signs it: the port only when it is not the scheme's default."""
        parts = urlsplit(self.url)
        return self.host if parts.port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{self.host}:{parts.port}"

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def invocation_url(endpoint_url: str, endpoint_name: str) -> str:
    return f"{endpoint_url.rstrip('/')}/endpoints/{quote(endpoint_name, safe='')}/invocations"


def resolve_target(
    endpoint_name: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    botocore_session: botocore.session.Session | None = None,
    variant: str | None = None,
) -> Target:
    """Resolve the runtime URL and credentials for ``endpoint_name`` as boto3 does (this may call STS or IMDS).

    ``endpoint_url`` overrides the resolved runtime URL, e.g. ``https://<vpc endpoint DNS name>``; ``variant`` sends
    every request to that production variant (TargetVariant).
    """
    botocore_session = botocore_session or botocore.session.get_session()
    boto3_session = boto3.session.Session(botocore_session=botocore_session)
    client = boto3_session.client("sagemaker-runtime", region_name=region, endpoint_url=endpoint_url)
    credentials = boto3_session.get_credentials()
    if credentials is None:
        raise botocore.exceptions.NoCredentialsError()
    url = invocation_url(client.meta.endpoint_url, endpoint_name)
    ssl_context = None
    if url.startswith("https:"):
        ca_bundle = botocore_session.get_config_variable("ca_bundle")
        ssl_context = ssl.create_default_context(cafile=ca_bundle or botocore.httpsession.get_cert_path(True))
    return Target(
        endpoint_name=endpoint_name,
        url=url,
        region=client.meta.region_name,
        signing_name=client.meta.service_model.signing_name,
        credentials=credentials,
        ssl_context=ssl_context,
        variant=variant,
    )


@dataclass
class _SignedRequest:
    second: int
    raw: bytes


class InvocationSigner:
    """Complete, signed HTTP/1.1 InvokeEndpoint requests, each signature reused within its second."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.signatures_made = 0
        self._signed: dict[Payload, _SignedRequest] = {}
        self._request_line = f"POST {target.path} HTTP/1.1\r\n".encode()

    def request(self, payload: Payload) -> bytes:
        """The request bytes for ``payload``, signed at most once per payload and clock second."""
        signed = self._signed.get(payload)
        if signed is None or signed.second != int(time.time()):
            signed = self._sign(payload)
            self._signed[payload] = signed
        return signed.raw

    def _sign(self, payload: Payload) -> _SignedRequest:
        headers = {"Host": self.target.host_header, "Content-Type": payload.content_type}
        if self.target.variant is not None:
            headers[TARGET_VARIANT_HEADER] = self.target.variant
        request = botocore.awsrequest.AWSRequest(method="POST", url=self.target.url, data=payload.body, headers=headers)
        # Frozen once per signature: refreshable credentials (IRSA, SSO, instance roles) renew here when due.
        credentials = self.target.credentials.get_frozen_credentials()
        botocore.auth.SigV4Auth(credentials, self.target.signing_name, self.target.region).add_auth(request)
        self.signatures_made += 1
        head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
        raw = b"".join(
            (
                self._request_line,
                head.encode(),
                f"Content-Length: {len(payload.body)}\r\nUser-Agent: {USER_AGENT}\r\n\r\n".encode(),
                payload.body,
            )
        )
        signed_second = calendar.timegm(time.strptime(request.headers["X-Amz-Date"], botocore.auth.SIGV4_TIMESTAMP))
        return _SignedRequest(signed_second, raw)
