"""Second factors: one package each (``<name>/``), one interface (``base.py``), one registry."""
