"""The command line: click only — parse, call the library, render."""

from collector.cli.main import main

__all__ = ["main"]
