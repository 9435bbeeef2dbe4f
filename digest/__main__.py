"""`python -m digest`: the command line."""

from digest.cli.main import main

main()
