"""Tekton-format pipelines: which runs a push starts, and running the steps of their tasks in containers."""
