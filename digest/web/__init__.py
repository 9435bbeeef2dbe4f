"""The web side: `digest serve` runs :func:`create_app` (Starlette) on uvicorn."""

from digest.web.app import create_app

__all__ = ["create_app"]
