"""Image automation: which tag a policy selects, and (later) scanning and updating Git."""
