"""``python -m sparrow_course.sparrowlens --out data``: regenerate the bundled data and its card."""
from .card import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
