"""Command line: ``python -m crawler run --config crawler.toml [--date YYYY-MM-DD]`` (also the ``moira-crawler`` script).

Commands:
  run            copy the day's files (and the previous ``catch_up_days`` days) and deliver the spool
  probe          measure the loggers' clocks only (for a daytime timer; see README, "Clock probes")
  check-config   validate the configuration and print a summary

Exit codes: see crawler/README.md (0 ok, 1 configuration, 2 logger unreachable, 3 uploads waiting in the spool,
4 token refused, 5 file rejected by the server, 6 another run in progress).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from datetime import date
from pathlib import Path

from . import config as config_module
from .logs import event, setup

EXIT_CONFIG = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on usage errors; 2 means "logger unreachable" here
        self.print_usage(sys.stderr)
        self.exit(EXIT_CONFIG, f"{self.prog}: error: {message}\n")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    prog = "moira-crawler" if Path(sys.argv[0]).name == "moira-crawler" else "python -m crawler"
    parser = _Parser(prog=prog, description="Moira crawler: copy PW3360 logger files and upload them to Moira.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="fetch the day's files and deliver the spool")
    run.add_argument("--config", required=True, help="path of crawler.toml")
    run.add_argument("--date", type=_date, help="the day to fetch (YYYY-MM-DD); default: today in [site] timezone")
    run.add_argument("--verbose", action="store_true", help="also log unchanged files and other details")
    probe = sub.add_parser("probe", help="measure the loggers' clocks and store the pairs")
    probe.add_argument("--config", required=True)
    probe.add_argument("--verbose", action="store_true")
    check = sub.add_parser("check-config", help="validate the configuration")
    check.add_argument("--config", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (1): returned, so that main() never raises
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    setup(None)
    try:
        cfg = config_module.load(args.config)
    except config_module.ConfigError as exc:
        event(logging.ERROR, f"configuration error: {exc}")
        return EXIT_CONFIG
    setup(cfg.site.tz, verbose=getattr(args, "verbose", False))
    if args.command == "check-config":
        for lg in cfg.loggers:
            event(logging.INFO, f"{lg.protocol}://{lg.username}@{lg.host}:{lg.port}{lg.root} clock={lg.clock}", lg.code)
        event(logging.INFO, f"configuration OK: {cfg.path} server={cfg.server.url} spool={cfg.server.spool_dir} "
                            f"timezone={cfg.site.timezone} loggers={len(cfg.loggers)}")  # fmt: skip
        return 0
    from .runner import Runner  # imported after the configuration: requests is only needed from here on

    try:
        runner = Runner(cfg)
        if args.command == "probe":
            return runner.probe_only().exit_code
        day = args.date or runner.today()
        return runner.run(day).exit_code
    except KeyboardInterrupt:
        event(logging.ERROR, "interrupted: the spool is consistent, the next run continues")
        return EXIT_CONFIG
    except Exception as exc:  # a fatal local error (unwritable spool, full disk): say so on one line, details with --verbose
        event(logging.ERROR, f"fatal error: {type(exc).__name__}: {exc}")
        event(logging.DEBUG, traceback.format_exc().replace("\n", " | "))
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
