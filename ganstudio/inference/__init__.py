"""Inference: load checkpoints safely, check them, render. The only importer of models/."""
