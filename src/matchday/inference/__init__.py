"""Serving: the predictor, canary routing, the Open Inference Protocol, authentication and rate limits."""
