"""The `gsdesktop` command line."""
