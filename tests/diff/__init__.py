"""Tests of `envlock diff`: compute, renderers, CLI and git integration."""
