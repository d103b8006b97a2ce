"""The `lowlatency-operator` command: run the operator, print the CRD, run the embedded demo, benchmark."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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


def build_parser() -> argparse.ArgumentParser:
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    status: int = arguments.func(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
