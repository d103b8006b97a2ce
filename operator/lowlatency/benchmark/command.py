"""The ``lowlatency-operator benchmark`` subcommand."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "benchmark", help="Send signed InvokeEndpoint requests to an endpoint and report latency percentiles."
    )
    parser.add_argument("--endpoint", required=True, help="SageMaker endpoint name.")
    parser.add_argument("--region", default=None, help="AWS region (boto3's chain otherwise).")
    parser.set_defaults(func=run)
    return parser


def run(arguments: argparse.Namespace) -> int:
    sys.stderr.write("benchmark: the load engine is being built; not usable yet\n")
    return 2
