"""PyInstaller entry point of the console executable ``gsdesktop`` (CLI; no arguments opens the app)."""

import multiprocessing

from gsdesktop.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
