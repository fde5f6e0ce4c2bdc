"""`activitysmith-sandbox`: run the sandbox server from the command line."""

from __future__ import annotations

import argparse
import json

from . import DEFAULT_KEY, Faults, Sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="activitysmith-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--api-key", default=DEFAULT_KEY, help="the Bearer key it accepts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction answering 500")
    parser.add_argument(
        "--rate-limits",
        default="",
        help='per-minute quotas as JSON, e.g. \'{"push": 60, "live_activity": 300}\'',
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        args.api_key,
        host=args.host,
        port=args.port,
        faults=Faults(latency=args.latency, error_rate=args.error_rate),
        rate_limits=json.loads(args.rate_limits) if args.rate_limits else None,
    )
    print(
        f"ActivitySmith sandbox on {sandbox.root}/  (API base URL {sandbox.url}, "
        f"key {args.api_key!r})",
        flush=True,
    )
    sandbox.serve_forever()


if __name__ == "__main__":
    main()
