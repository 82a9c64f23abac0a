"""`python -m brb.sim ollama|anthropic|capture [--port N] ...`: run one fake by hand.

Owns: the command line for trying brb against a simulated backend from a shell.
Must not: be imported by brb itself; `brb drill` and the tests build the fakes directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from aiohttp import web

from brb.sim.anthropic import FakeAnthropic
from brb.sim.capture import CaptureServer
from brb.sim.ollama import FakeOllama
from brb.sim.server import LOOPBACK, run_forever
from brb.sim.token_speed import TokenSpeed


def build_app(args: argparse.Namespace) -> web.Application:
    if args.kind == "ollama":
        return FakeOllama(
            num_parallel=args.num_parallel,
            service_s=args.service_s,
            chunks=args.chunks,
            speed=TokenSpeed() if args.mixed else None,
        ).app()
    if args.kind == "anthropic":
        return FakeAnthropic(api_key=args.api_key, latency_s=args.latency_s).app()
    return CaptureServer().app()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brb.sim", description=__doc__)
    parser.add_argument("kind", choices=["ollama", "anthropic", "capture"])
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--num-parallel", type=int, default=1, help="ollama: slots per model")
    parser.add_argument("--service-s", type=float, default=0.5, help="ollama: seconds per request")
    parser.add_argument("--chunks", type=int, default=3, help="ollama: pieces per stream")
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="ollama: time per token, reply lengths of the mixed shape (brb.sim.mixed_traffic)",
    )
    parser.add_argument("--api-key", default=None, help="anthropic: expected key (default: any)")
    parser.add_argument("--latency-s", type=float, default=0.0, help="anthropic: first-byte delay")
    args = parser.parse_args(argv)

    def announce(base_url: str) -> None:
        print(f"simulated {args.kind} listening on {base_url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(build_app(args), announce, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
