"""Reconcile logic: one ``reconcile`` per kind. Decisions are pure functions beside them."""
