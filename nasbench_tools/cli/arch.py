"""Convert and canonicalise one architecture.

NAS-Bench-201: give an index (0..15624), an arch string, six op names (comma-separated, string
order) or, with --naslib, NASLib's op-index tuple. NAS-Bench-101: give --matrix and --ops.
Prints every equivalent form, the isomorphism class and, with --encode, encodings.
"""

from __future__ import annotations

import argparse
import json

from ..errors import NasbenchToolsError
from ..spaces import encodings, nb101, nb201

NAME = "arch"
HELP = "convert and canonicalise an NB201 or NB101 architecture"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", nargs="?", help="NB201 index, arch string or 6 comma-separated ops")
    p.add_argument(
        "--naslib",
        action="store_true",
        help="ARCH is NASLib's op-index tuple, e.g. '(0, 2, 3, 2, 3, 1)'",
    )
    p.add_argument(
        "--matrix",
        help="NB101 adjacency, row-major 0/1 string (as in the tfrecord) or rows separated by commas",
    )
    p.add_argument(
        "--ops", help="NB101 vertex labels, comma-separated, input first and output last"
    )
    p.add_argument(
        "--encode",
        action="append",
        default=[],
        metavar="KIND",
        help="also print this encoding (repeatable); kinds: "
        + ", ".join(encodings.list_encodings()),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _nb201(args) -> dict:
    text = args.arch.strip()
    if args.naslib:
        values = [int(v) for v in text.strip("()[] ").split(",")]
        arch = nb201.Arch.from_naslib(values)
    elif "," in text and "|" not in text:
        arch = nb201.Arch.from_ops([v.strip() for v in text.split(",")])
    else:
        arch = nb201.Arch.parse(text)
    unique = arch.unique_str()
    members = [a.index for a in nb201.all_archs() if a.unique_str() == unique]
    info = {
        "space": "nb201",
        "index": arch.index,
        "arch_str": arch.to_string(),
        "ops": list(arch.ops),
        "naslib_op_indices": list(arch.to_naslib()),
        "unique_str": unique,
        "isomorphism_class_size": len(members),
        "isomorphism_class_representative": min(members),
        "functional_str": arch.functional_str(),
        "connected": arch.is_connected,
    }
    for kind in args.encode:
        info[f"encoding:{kind}"] = encodings.encode([arch], kind)[0].tolist()
    return info


def _nb101(args) -> dict:
    if not args.ops:
        raise NasbenchToolsError("--matrix needs --ops (the NB101 vertex labels)")
    text = args.matrix.replace(" ", "")
    rows = text.split(",") if "," in text else None
    adjacency = "".join(rows) if rows else text
    spec = nb101.ModelSpec.from_string(adjacency, args.ops.replace(" ", ""))
    info = {
        "space": "nb101",
        "original_matrix": spec.original_matrix.tolist(),
        "original_ops": list(spec.original_ops),
        "connected": spec.connected,
        "is_valid": spec.is_valid,
        "invalid_reason": spec.invalid_reason,
    }
    if spec.connected:
        info |= {
            "pruned_matrix": spec.matrix.tolist(),
            "pruned_ops": list(spec.ops),
            "vertices": spec.num_vertices,
            "edges": spec.num_edges,
            "module_hash": spec.hash,
        }
    for kind in args.encode:
        info[f"encoding:{kind}"] = encodings.encode([spec], kind)[0].tolist()
    return info


def run(args) -> int:
    if args.matrix is not None:
        info = _nb101(args)
    elif args.arch is not None:
        info = _nb201(args)
    else:
        raise NasbenchToolsError("give an NB201 architecture, or --matrix and --ops for NB101")
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            print(
                f"{key:<{width}}  "
                + ("\n" + " " * (width + 2)).join(" ".join(map(str, r)) for r in value)
            )
        else:
            print(f"{key:<{width}}  {value}")
    return 0
