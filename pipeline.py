#!/usr/bin/env python3
"""swarmhub's command line: `python pipeline.py --help`."""

from swarmhub.cli import main

if __name__ == "__main__":
    main()
