"""imagegen: AI image generation for catalogue icons and blog images."""

__version__ = "0.1.0"
