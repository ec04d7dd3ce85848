"""`python -m amptrain [overrides]`: train a model. See `python -m amptrain --help`."""
from .cli import main

raise SystemExit(main())
