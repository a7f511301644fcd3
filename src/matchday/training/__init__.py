"""Training: fit a deployable bundle from the walk-forward, and decide whether it replaces the champion."""
