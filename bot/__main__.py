"""`python -m bot`: the `tipline` command."""

from bot.cli import main

main()
