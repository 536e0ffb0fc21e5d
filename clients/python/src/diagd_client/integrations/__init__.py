"""Integrations of diagd_client with training frameworks (transformers)."""
