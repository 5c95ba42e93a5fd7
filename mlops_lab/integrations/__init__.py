"""Where mlops-lab meets the tools teams already run: serving engines and CI providers.

:mod:`.deploy` writes what MLServer, KServe or Docker need to serve a bundle;
:mod:`.workflows` writes a GitHub or GitLab workflow that checks, retrains and
packages. Nothing here is imported by ``import mlops_lab``.
"""
