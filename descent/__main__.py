"""`python -m descent`: the `descent` command."""

from descent.cli import main

raise SystemExit(main())
