"""Faces: detection, quality gates, embeddings and the dominant face of a video."""
