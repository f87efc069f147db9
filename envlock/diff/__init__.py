"""Lockfile review: compute what changed between two locks and render it for people and tools."""
