"""Adapters to the platform's frameworks: the only modules that import Feast (and, later, MLflow, Ray, KFP and
BentoML). The core never imports them; import a submodule (`matchday.integrations.feast_store`) where it is needed,
so a command that does not use a framework does not pay for importing it."""

__all__: list[str] = []
