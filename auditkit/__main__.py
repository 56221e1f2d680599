"""``python -m auditkit``: the command line."""

from .cli import main

raise SystemExit(main())
