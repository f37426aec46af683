"""``python -m smoothcli.examples``: print the folder of the example files."""

from pathlib import Path

print(Path(__file__).resolve().parent)
