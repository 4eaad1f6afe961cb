"""``python -m tensorfleet``: the same as the ``tensorfleet`` command."""

from tensorfleet.cli import main

if __name__ == "__main__":
    main()
