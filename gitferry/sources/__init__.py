"""Source adapters: fetch what a source object points at and store it as an artifact directory.

``git`` is the GitRepository adapter (Flux source-controller behaviour); ``refs``, ``semver``
and ``ignore`` are its pure rules, ``artifacts`` its storage, ``remote`` its git runner.
"""
