"""What every `tipline` subcommand shares: the root options and settings loading."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import click

from bot.config import ConfigError, Settings, load_settings


class Obj:
    """Options of the root command, for its subcommands."""

    def __init__(self, db: Path | None) -> None:
        self.db = db

    def settings(self, require: Collection[str] = ()) -> Settings:
        """Load settings, turning a configuration error into a one-line CLI error."""
        try:
            return load_settings(require, db_path=self.db)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None


pass_obj = click.make_pass_decorator(Obj)
