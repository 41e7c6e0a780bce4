"""Entry point of `python3 -m experiments.traceimport`."""
import sys

from .cli import main

sys.exit(main())
