"""``python -m alwa.cli COMMAND``: the same as ``alwa COMMAND``."""

from alwa.cli import main

main()
