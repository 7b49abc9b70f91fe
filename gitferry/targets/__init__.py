"""Where rendered objects go: one interface (``base.Target``), one implementation per engine."""
