"""Rendering a Flux Kustomization into objects: ``build`` runs it, with real kustomize.

``generator`` decides the kustomization.yaml Flux would write, ``substitute`` does Flux's
post-build variable substitution and ``goyaml`` reads and writes YAML with the scalar rules of
Flux's Go code. Only ``build`` does I/O.
"""
