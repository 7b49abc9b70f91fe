"""gitferry: GitOps continuous delivery and CI, compatible with Flux and Tekton formats."""

__version__ = "0.1.0"
