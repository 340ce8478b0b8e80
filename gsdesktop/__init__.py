"""GenomeSpace Desktop: Data Manager client, sync engine, desktop app and self-hostable server."""

__version__ = "0.1.0"
