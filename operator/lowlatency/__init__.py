"""lowlatency-operator: SageMaker real-time inference endpoints as Kubernetes resources."""

GROUP = "lowlatency.io"
VERSION = "v1alpha1"
KIND = "LowLatencyEndpoint"
PLURAL = "lowlatencyendpoints"
SINGULAR = "lowlatencyendpoint"
SHORT_NAME = "lle"
