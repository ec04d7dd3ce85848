"""`python -m capture <command> [args]`: sweep | params | verify | merge. See `python -m capture --help`."""
from .cli import main

raise SystemExit(main())
