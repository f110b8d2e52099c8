"""The ``aws-eks`` target: the service on EKS behind an ALB, load from Locust pods in the cluster.

``manifests`` renders the Kubernetes objects from the templates in ``infra/k8s``; plain Python,
no Dagster, no settings.
"""
