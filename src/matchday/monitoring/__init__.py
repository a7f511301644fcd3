"""Monitoring: what the served models see (the served-predictions log), compared with what they were trained on."""
