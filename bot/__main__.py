"""`python -m bot`: the same as the `gobot` command."""

from bot.cli import main

main()
