"""Bytes on disk: the content-addressed blob store and image helpers."""
