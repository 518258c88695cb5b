"""``edge models fetch NAME`` and ``edge models list``: the downloadable speech models."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.commands.common import print_json
from edge.speech.asr.model_fetch import MODELS, default_models_dir, fetch_model, installed_models


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``models`` command with its ``fetch`` and ``list`` actions."""
    parser = subparsers.add_parser(
        "models",
        parents=[common],
        help="download or list speech models",
        description="Download a speech model (verified against a pinned SHA-256) or list what is installed. "
        "This is the only edge command that uses the network.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", parents=[common], help="download, verify and unpack a model")
    fetch.add_argument("name", choices=sorted(MODELS), help="model to fetch")
    fetch.add_argument(
        "--dir", type=Path, default=None, help=f"models folder (default: {default_models_dir()})"
    )
    fetch.add_argument("--force", action="store_true", help="replace an existing copy")
    fetch.set_defaults(handler=run_fetch)
    listing = actions.add_parser("list", parents=[common], help="show known models and where they are")
    listing.add_argument("--dir", type=Path, default=None, help="also look in this models folder")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=run_list)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch one model."""
    target = fetch_model(MODELS[args.name], args.dir or default_models_dir(), force=args.force)
    print(target)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """List the known models."""
    dirs = (args.dir,) if args.dir else None
    rows = installed_models(dirs)
    if args.json:
        print_json({"models": rows})
        return 0
    for row in rows:
        state = "missing" if row["path"] is None else ("installed" if row["complete"] else "incomplete")
        print(f"{row['name']:<16} {state:<10} {row['path'] or '-'}")
        print(f"{'':<16} {row['description']}")
    return 0
