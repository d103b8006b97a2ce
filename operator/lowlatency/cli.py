"""The `lowlatency-operator` command: run the operator, print the CRD, run the embedded demo, benchmark, find
orphaned AWS resources, build a price table from AWS's Price List."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from lowlatency import crd


def run_operator(arguments: argparse.Namespace) -> int:
    import kopf  # imported here so that `crd` and `benchmark` start fast

    from lowlatency import config, handlers, observability

    operator_config = config.from_arguments(arguments)
    observability.configure_logging(operator_config.log_format, arguments.verbose)
    registry = kopf.OperatorRegistry()
    handlers.register(operator_config, registry)
    kopf.run(
        registry=registry,
        clusterwide=not operator_config.namespaces,
        namespaces=operator_config.namespaces,
        liveness_endpoint=operator_config.liveness_endpoint,
    )
    return 0


def print_crd(arguments: argparse.Namespace) -> int:
    sys.stdout.write(crd.render_yaml())
    return 0


def run_demo(arguments: argparse.Namespace) -> int:
    from lowlatency import demo

    return demo.main(keep=arguments.keep, example=arguments.example)


def confirmed(count: int, ask: Callable[[str], str] = input) -> bool:
    try:
        answer = ask(f"Delete these {count} AWS resources? [y/N] ")
    except EOFError:  # not interactive: only --yes deletes
        return False
    return answer.strip().lower() in {"y", "yes"}


def find_orphans(arguments: argparse.Namespace) -> int:
    from lowlatency import cluster, config, orphans
    from lowlatency.aws import AwsClients

    region_clients = AwsClients(config.aws_settings(arguments)).for_region(arguments.region)
    # AWS first: an object that owns something listed existed before it, so it is among the uids read after.
    owned = orphans.collect(region_clients, arguments.region)
    found = orphans.find_orphans(owned, cluster.inventory(), include_retained=arguments.include_retained)
    if not found:
        print(f"No orphaned AWS resources of lowlatency-operator in {arguments.region}.")
        return 0
    print(f"{'KIND':<18} {'NAME':<64} {'OWNER (gone)':<48} UID")
    for orphan in found:
        owner = orphan.owner_reference + (" (retained)" if orphan.retained else "")
        print(f"{orphan.kind:<18} {orphan.name:<64} {owner:<48} {orphan.owner.uid}")
    if not arguments.delete:
        print(f"{len(found)} orphaned; run again with --delete to delete them.")
        return 0
    if not arguments.yes and not confirmed(len(found)):
        print("Nothing deleted.")
        return 1
    for orphan in found:
        orphans.delete(region_clients, arguments.region, orphan)
        print(f"deleted {orphan.kind} {orphan.name}")
    return 0


def build_price_table(arguments: argparse.Namespace) -> int:
    import botocore.exceptions

    from lowlatency import pricelist

    try:
        if arguments.source == "api":
            offer = pricelist.from_pricing_api(pricelist.pricing_client(arguments.pricing_region), arguments.region)
        else:
            offer = pricelist.from_offer_file(Path(arguments.source), arguments.region)
    except (
        pricelist.PriceListError,
        OSError,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
    ) as error:
        print(f"lowlatency-operator prices: {error}", file=sys.stderr)
        return 1
    text = pricelist.render(pricelist.table_document(offer, arguments.note))
    if arguments.output == "-":
        sys.stdout.write(text)
    else:
        Path(arguments.output).write_text(text, encoding="utf-8")
    instance_types = {name for prices in offer.hourly_usd.values() for name in prices}
    print(
        f"{len(instance_types)} real-time instance types in {len(offer.hourly_usd)} regions, serverless prices in "
        f"{len(offer.serverless_usd_per_second)}, from offer version {offer.version} of {offer.publication_date}.",
        file=sys.stderr,
    )
    if offer.dropped:
        print(
            f"Left out (not instance types of real-time endpoints): {', '.join(sorted(offer.dropped))}.",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    import boto3

    from lowlatency import config
    from lowlatency.benchmark import command as benchmark_command

    parser = argparse.ArgumentParser(
        prog="lowlatency-operator",
        description="Manage Amazon SageMaker real-time inference endpoints as LowLatencyEndpoint resources.",
    )
    subparsers = parser.add_subparsers(required=True, metavar="COMMAND")

    run = subparsers.add_parser("run", help="Run the operator against the cluster of the current kubeconfig.")
    config.add_arguments(run)
    run.add_argument("--verbose", "-v", action="store_true", help="Log debug messages.")
    run.set_defaults(func=run_operator)

    show_crd = subparsers.add_parser("crd", help="Print the CustomResourceDefinition (generated from the models).")
    show_crd.set_defaults(func=print_crd)

    demo = subparsers.add_parser(
        "demo",
        help="Run the operator against an embedded Kubernetes API and AWS emulator (no cluster or account needed).",
    )
    demo.add_argument("--keep", action="store_true", help="Keep running after the endpoint is InService.")
    demo.add_argument("--example", default=None, help="The resource to apply (default: examples/bid-filter.yaml).")
    demo.set_defaults(func=run_demo)

    benchmark_command.add_parser(subparsers)

    orphaned = subparsers.add_parser(
        "orphans",
        help="List (and with --delete, delete) owner-tagged AWS resources whose LowLatencyEndpoint no longer exists "
        "in the cluster of the current kubeconfig.",
    )
    config.add_aws_arguments(orphaned)
    orphaned.add_argument(
        "--include-retained",
        action="store_true",
        help="Also list what deletionPolicy Retain left in AWS on purpose.",
    )
    orphaned.add_argument("--delete", action="store_true", help="Delete the orphans after confirmation.")
    orphaned.add_argument("--yes", "-y", action="store_true", help="With --delete: do not ask for confirmation.")
    orphaned.set_defaults(func=find_orphans)

    prices = subparsers.add_parser(
        "prices",
        help="Build a price table for --prices from AWS's Price List: the Pricing API (service code AmazonSageMaker) "
        "or a downloaded AmazonSageMaker offer file.",
    )
    prices.add_argument(
        "--source",
        required=True,
        metavar="api|OFFER_FILE",
        help="'api': ask the Price List Query API's GetProducts (AWS credentials needed, pricing:GetProducts); "
        "otherwise the path of an offer file, e.g. https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/"
        "AmazonSageMaker/current/index.json (every region) or .../current/<region>/index.json, downloaded.",
    )
    prices.add_argument(
        "--region",
        action="append",
        default=[],
        help="Keep the prices of this region (repeatable). Default: every region of the source.",
    )
    prices.add_argument(
        "--pricing-region",
        choices=boto3.session.Session().get_available_regions("pricing"),
        default="us-east-1",
        help="With --source api: the region whose Price List endpoint to ask (the API is served in these only).",
    )
    prices.add_argument("--note", default=None, help="A sentence added to the table's note: what the source covers.")
    prices.add_argument("--output", "-o", default="-", help="Write the table here (default: standard output).")
    prices.set_defaults(func=build_price_table)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    status: int = arguments.func(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
