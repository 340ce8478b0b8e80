"""PyInstaller entry point of the windowed executable ``gsdesktop-gui`` (``gsdesktop gui ...``)."""

import multiprocessing

from gsdesktop.cli.main import gui_main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(gui_main())
