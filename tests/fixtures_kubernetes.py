"""Fixtures that start the Kubernetes API emulator and hand out a kubeconfig and kubectl."""
