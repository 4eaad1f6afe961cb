"""``python -m app.fsck``: check the store's invariants (``app.services.fsck``) and report.

Exit status: 0 when every invariant holds, 1 when any is violated (one line each,
or ``--json``), 2 when MongoDB cannot be read. ``--no-files`` skips reading and
verifying every stored file (the slow part on a large store).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from pymongo.errors import PyMongoError

from app.config import get_settings
from app.services.fsck import check_store
from app.storage.mongo import get_database
from app.storage.signing import Signer


def main(argv: list[str] | None = None) -> int:
    """Run the check and print what it found."""
    parser = argparse.ArgumentParser(prog="python -m app.fsck", description=__doc__)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--no-files", action="store_true", help="do not verify stored files")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        found = check_store(
            get_database(settings), Signer.from_settings(settings), not args.no_files
        )
    except PyMongoError as exc:
        print(f"fsck: cannot read MongoDB: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"ok": not found, "violations": [asdict(v) for v in found]}))
    else:
        for violation in found:
            print(f"{violation.kind}: {violation.subject}: {violation.detail}")
        print(f"fsck: {len(found)} violation(s)" if found else "fsck: clean")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
