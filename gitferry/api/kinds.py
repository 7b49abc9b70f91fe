"""Which kinds are cluster-scoped. Every other kind lives in a namespace.

There is no API server to ask (``kubectl api-resources --namespaced=false``), so this is the
table a server would answer with: the built-in cluster-scoped kinds of Kubernetes 1.32, plus
those of custom resources common in GitOps repositories. Keyed by kind alone, as ``ObjectKey``
is. A CustomResourceDefinition in the rendered set can add its own kind (``cluster_scoped_kinds``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

BUILTIN_CLUSTER_SCOPED_KINDS: frozenset[str] = frozenset(
    {
        # core/v1
        "ComponentStatus",
        "Namespace",
        "Node",
        "PersistentVolume",
        # admissionregistration.k8s.io
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        # apiextensions.k8s.io, apiregistration.k8s.io
        "CustomResourceDefinition",
        "APIService",
        # authentication / authorization: review objects that are not namespaced
        "SelfSubjectAccessReview",
        "SelfSubjectReview",
        "SelfSubjectRulesReview",
        "SubjectAccessReview",
        "TokenReview",
        # certificates.k8s.io
        "CertificateSigningRequest",
        "ClusterTrustBundle",
        # flowcontrol.apiserver.k8s.io
        "FlowSchema",
        "PriorityLevelConfiguration",
        # networking.k8s.io
        "IngressClass",
        "IPAddress",
        "ServiceCIDR",
        # node.k8s.io, scheduling.k8s.io
        "RuntimeClass",
        "PriorityClass",
        # policy (removed in 1.25, still found in old repositories)
        "PodSecurityPolicy",
        # rbac.authorization.k8s.io
        "ClusterRole",
        "ClusterRoleBinding",
        # resource.k8s.io
        "DeviceClass",
        "ResourceSlice",
        # storage.k8s.io
        "CSIDriver",
        "CSINode",
        "StorageClass",
        "VolumeAttachment",
        "VolumeAttributesClass",
    }
)

# Custom resources whose CRDs declare ``scope: Cluster`` and which GitOps repositories often hold
# without shipping the CRD in the same Kustomization.
WELL_KNOWN_CLUSTER_SCOPED_CRD_KINDS: frozenset[str] = frozenset(
    {
        "ClusterIssuer",  # cert-manager
        "ClusterPolicy",  # Kyverno
        "ClusterCleanupPolicy",  # Kyverno
        "ClusterPolicyReport",  # wg-policy reports
        "ClusterSecretStore",  # External Secrets
        "ClusterExternalSecret",  # External Secrets
        "GatewayClass",  # Gateway API
        "VolumeSnapshotClass",  # CSI snapshots
        "VolumeSnapshotContent",  # CSI snapshots
        "ClusterWorkflowTemplate",  # Argo Workflows
        "ClusterTask",  # Tekton (deprecated)
        "ClusterTriggerBinding",  # Tekton Triggers
        "ClusterInterceptor",  # Tekton Triggers
    }
)

CLUSTER_SCOPED_KINDS: frozenset[str] = BUILTIN_CLUSTER_SCOPED_KINDS | WELL_KNOWN_CLUSTER_SCOPED_CRD_KINDS


def cluster_scoped_kinds(objects: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The table, plus the kinds of any cluster-scoped CustomResourceDefinition among ``objects``."""
    declared = set()
    for obj in objects:
        spec = obj.get("spec")
        if obj.get("kind") != "CustomResourceDefinition" or not isinstance(spec, dict):
            continue
        names = spec.get("names")
        if spec.get("scope") == "Cluster" and isinstance(names, dict) and isinstance(names.get("kind"), str):
            declared.add(names["kind"])
    return CLUSTER_SCOPED_KINDS | declared


def is_cluster_scoped(kind: str, known: frozenset[str] = CLUSTER_SCOPED_KINDS) -> bool:
    return kind in known
