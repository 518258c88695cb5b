"""The ``edge`` command line: one subcommand per module in ``edge.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.errors import EXIT_FAILURE, EXIT_USAGE, EdgeError

log = logging.getLogger(__name__)

# Order is the order `edge --help` lists them in.
COMMAND_MODULES = (
    "run",
    "replay",
    "record",
    "intent",
    "train",
    "wake",
    "check_config",
    "devices",
    "set",
    "pins",
    "audio_devices",
    "doctor",
    "models",
    "status",
    "service",
    "fleet",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    # The options are accepted before and after the command. The copy on the subcommands defaults to
    # SUPPRESS so it cannot overwrite a value given before the command (an argparse pitfall).
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="edge",
        description="Offline voice control for lights and fans on a single-board computer.",
    )
    _add_common_options(parser, None)
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"edge.commands.{name}").register(subparsers, common)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, default: object) -> None:
    flag_default = default if default is not None else False
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=default,
        help="config file (default: $EDGE_CONFIG, ./edge.yaml, /etc/edge/edge.yaml)",
    )
    parser.add_argument(
        "--board", metavar="NAME", default=default, help="board profile to use instead of the config's"
    )
    parser.add_argument(
        "--debug", action="store_true", default=flag_default, help="log debug messages, show tracebacks"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=flag_default, help="log only warnings and errors"
    )


def configure_logging(debug: bool, quiet: bool) -> None:
    """Log to stderr; under journald with priority prefixes and no timestamps."""
    from edge.logs import configure

    configure(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.debug, args.quiet)
    try:
        return int(args.handler(args))
    except EdgeError as err:
        if args.debug:
            log.exception("failed")
        print(f"edge: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # A reader like `head` went away; nothing more to say.
        return EXIT_FAILURE
    except Exception as err:
        if args.debug:
            raise
        print(
            f"edge: error: unexpected {type(err).__name__}: {err} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def usage_error(message: str) -> int:
    """Print a usage error line and return the usage exit code."""
    print(f"edge: error: {message}", file=sys.stderr)
    return EXIT_USAGE
