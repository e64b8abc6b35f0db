"""``python -m pigen.service.cli ...``: the ``pigen`` command without the console script."""

from pigen.service.cli import main

main()
