"""Self-hostable GenomeSpace Data Manager server (FastAPI on S3 storage)."""
