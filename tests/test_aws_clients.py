"""The operator's AWS clients: built on first use, shared, with a connection pool as large as the AWS workers.

No server is needed: building a boto3 client makes no call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lowlatency import cli, config
from lowlatency.aws import AwsClients, AwsSettings

REGION = "eu-west-1"


def test_a_regions_clients_are_built_on_first_use_and_shared() -> None:
    clients = AwsClients(AwsSettings(endpoint_url="http://127.0.0.1:9"))
    region = clients.for_region(REGION)
    assert clients._clients == {}  # the cache: nothing built until a reconciliation uses a client
    sagemaker = region.sagemaker
    assert set(clients._clients) == {("sagemaker", REGION)}  # no EC2 client without a VPC endpoint to manage
    assert clients.for_region(REGION).sagemaker is sagemaker


def test_threads_asking_for_a_client_at_once_share_one() -> None:
    region = AwsClients(AwsSettings(endpoint_url="http://127.0.0.1:9")).for_region(REGION)
    with ThreadPoolExecutor(8) as pool:
        built = list(pool.map(lambda _: region.ec2, range(32)))
    assert len({id(client) for client in built}) == 1


def pool_size(client: Any) -> int:
    """The client's connection pool size, from its config (botocore's stubs do not declare the attribute)."""
    size: int = client.meta.config.max_pool_connections
    return size


def test_the_connection_pool_follows_the_aws_worker_count() -> None:
    for workers in ("4", "64"):
        arguments = cli.build_parser().parse_args(["run", "--aws-workers", workers])
        operator_config = config.from_arguments(arguments)
        client = AwsClients(operator_config.aws).client("sagemaker", REGION)
        assert pool_size(client) == int(workers)
    default_client = AwsClients(config.OperatorConfig().aws).client("ec2", REGION)
    assert pool_size(default_client) == config.OperatorConfig().aws_workers
