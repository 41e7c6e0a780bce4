"""Entry point of `python3 -m experiments.runner`."""
import sys

from .cli import main

sys.exit(main())
