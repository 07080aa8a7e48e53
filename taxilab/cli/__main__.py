"""`python -m taxilab.cli ...`: the command line, as the `taxilab` script runs it (used by subprocess tests)."""

from taxilab.cli import app

app()
