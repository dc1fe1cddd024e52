"""Delivery in JupyterHub: the pilot hub on one machine (`adoptkit hub`), and where it meets the gateway
and the grader (`wiring`). The cluster's configuration is `deploy/z2jh/values.yaml` (checked by `z2jh`)."""
