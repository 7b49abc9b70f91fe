"""Pure object models, parsing and validation. No I/O happens in this package."""
