"""The ``gitferry`` command line, with verbs that mirror the ``flux`` CLI."""
