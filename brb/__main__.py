"""``python -m brb``: the same as the ``brb`` console script."""

from brb.cli.launch import run

if __name__ == "__main__":
    run()
