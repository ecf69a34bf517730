"""Command-line interface (``nbt``). Library code never imports this package."""
