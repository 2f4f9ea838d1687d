"""`python -m piperarc.cli`: the command line, as the `piperarc` script runs it."""

from piperarc.cli import main

main()
