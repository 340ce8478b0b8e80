"""Data Manager client library (plain Python, no Qt)."""
