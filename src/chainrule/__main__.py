"""``python -m chainrule``: the same as the ``chainrule`` command."""

from chainrule.cli.main import main

raise SystemExit(main())
