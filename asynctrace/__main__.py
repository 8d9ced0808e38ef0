"""``python -m asynctrace``: the command line."""

from ._cli._main import main

raise SystemExit(main())
