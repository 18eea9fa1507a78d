"""``python -m alwa COMMAND``: the same as ``alwa COMMAND``."""

from alwa.cli import main

main()
