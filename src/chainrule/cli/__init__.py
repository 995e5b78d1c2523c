"""The ``chainrule`` command line: train, resume, evaluate, predict, summary, datasets (and
``tune`` when the tuning extra is installed).

- :mod:`chainrule.cli.main`: the entry point (``chainrule`` / ``python -m chainrule``),
  argument parsing, the subcommand registry and the one-line error handling;
- :mod:`chainrule.cli.config`: TOML configurations (load, resolve with defaults and
  overrides, validate with nearest-key suggestions, dump);
- :mod:`chainrule.cli.runner`: :func:`~chainrule.cli.runner.train_run` and
  :func:`~chainrule.cli.runner.resume_run`, everything ``chainrule train`` does, from Python;
- :mod:`chainrule.cli.build`: data, model, optimizer and schedule from a configuration, and
  trained models back from run folders and checkpoints;
- :mod:`chainrule.cli.plots`: the run folder's PNG plots (matplotlib, optional).

Nothing here is imported by ``import chainrule``.
"""
