"""`python -m sitewatch` runs the command line."""

from sitewatch.cli import main

main()
