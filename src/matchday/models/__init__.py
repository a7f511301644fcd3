"""Models from features to outcome probabilities ordered (home, draw, away): explicit parameters, no I/O."""
