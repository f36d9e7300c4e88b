"""The size limits of the product code: no module over 300 lines, no function over 50 (migrations aside).

Run from the project root: python .ci/check_sizes.py. Exits 1 and names each offender when one is over.
"""

import ast
import sys
from pathlib import Path

PACKAGES = ("quick_publisher", "main", "publisher")
MODULE_LINES, FUNCTION_LINES = 300, 50


def offenders(path):
    source = path.read_text()
    lines = source.count("\n")
    if lines > MODULE_LINES:
        yield f"{path}: {lines} lines (at most {MODULE_LINES})"
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LINES:
                yield f"{path}:{node.lineno}: {node.name}() is {length} lines (at most {FUNCTION_LINES})"


def main():
    found = [
        problem
        for package in PACKAGES
        for path in sorted(Path(package).rglob("*.py"))
        if "migrations" not in path.parts
        for problem in offenders(path)
    ]
    within = f"every module within {MODULE_LINES} lines, every function within {FUNCTION_LINES}"
    print("\n".join(found) or f"Sizes: {within}.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
