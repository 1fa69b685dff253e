"""The message catalogs of the product (see ``catalogs.py`` for their upkeep)."""
