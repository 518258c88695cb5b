"""Subcommands of the edge CLI: one module per command, each exposing ``register``."""
