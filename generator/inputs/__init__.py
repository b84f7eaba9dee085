"""Stages 1-2, inputs: find the files (sources), load them with positions (load), layer environment over base
(layering), check each against its JSON Schema (validate), refuse secrets (secrets), and hand resolve the
validated documents of each environment (reader). Nothing here knows cdk8s or the resolved model."""
