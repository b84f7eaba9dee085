"""Verify rendered objects before anything lands, and the committed out/ on demand: each object against its
JSON Schemas (schemas.py; kubeconform too when installed, kubeconform.py), and one environment's objects together
against what a cluster would run as intended (cluster_rules.py). Verify reads objects, never the model: a wrong
decision in resolve is caught here rather than repeated."""
