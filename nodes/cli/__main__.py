"""`python -m nodes.cli ...` runs `yrd ...`."""

from nodes.cli import main

main()
