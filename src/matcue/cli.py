"""Command-line interface (placeholder until the pipeline lands)."""

import click


@click.group()
def main() -> None:
    """matcue: voice-guided audio sessions."""
