"""Blocks a test model imports from its own folder (tests/models/imported_blocks.py)."""
