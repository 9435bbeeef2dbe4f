"""`python -m digest.cli`: the command line."""

from digest.cli.main import main

main()
