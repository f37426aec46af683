"""``python -m smoothcli.examples``: print the folder of the example files."""

from . import FOLDER

print(FOLDER)
