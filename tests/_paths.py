"""Where the team's shared data sits: ``../shared`` beside the checkout (see ../shared/README.md)."""

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PHOTOS = SHARED_DATA / "photos"
