"""Where an index lives. `storage.py` is the contract both backends meet; `index.py`
opens one or the other. The backends are side by side: neither imports the other."""
