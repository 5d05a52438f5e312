"""Synthetic datasets in the real download layouts, behind one CLI (``skinlight-synthetic --layout ...``)."""
