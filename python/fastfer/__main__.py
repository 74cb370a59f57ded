"""``python -m fastfer``: the command line of :mod:`fastfer.cli`."""

import sys

from fastfer.cli import main

if __name__ == "__main__":
    sys.exit(main())
