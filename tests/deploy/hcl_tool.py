"""Parses every .tf file under a folder with the HCL2 parser checkov uses (bc-python-hcl2), inside the deploy tools'
virtual environment: `.venv-deploy/bin/python tests/deploy/hcl_tool.py terraform` prints {relative path: parsed}
as JSON, or {"error": ...} naming the file that does not parse."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hcl2

__all__ = ["main"]


def main(argv: list[str]) -> int:
    root = Path(argv[0])
    parsed = {}
    for path in sorted(root.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        try:
            with path.open(encoding="utf-8") as handle:
                parsed[str(path.relative_to(root))] = hcl2.load(handle)
        except Exception as error:
            json.dump({"error": f"{path}: {type(error).__name__}: {error}"}, sys.stdout)
            return 0
    json.dump(parsed, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
