"""Each option an admin meets in issue 19 is in its command's --help and in its example."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import cli


@pytest.mark.parametrize(("path", "option"), [
    (["import"], "--json"),
    (["import"], "--encoding"),
    (["export"], "--encoding"),
    (["watchlist", "list"], "--format"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else value)
def test_a_new_option_is_explained_and_shown_in_an_example(path: list[str], option: str
                                                          ) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    text, options = result.output.split("Options:")
    assert option in options
    example = text.split("Example")[-1]
    assert any(line.strip().startswith(f"tipline {' '.join(path)}") and option in line
               for line in example.splitlines()), example
