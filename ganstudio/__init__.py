"""GAN Studio: shared test photos, versioned image-to-image filters, side-by-side review."""

__version__ = "0.1.0"
