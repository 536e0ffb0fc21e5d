"""Generates the client's gRPC stubs from proto/diagnostics/v1/diagnostics.proto.

The stubs are checked in under src/diagd_client/_proto/. grpcio-tools writes an
absolute import (`from diagnostics.v1 import diagnostics_pb2`) that only works
when `diagnostics` is a top-level package, so this script rewrites it into a
package-relative import. With `--check` nothing is written: the script exits 1
when the checked-in files differ from what the proto generates now (CI runs
this, so a proto change without regenerated stubs fails).

Run it with the pinned grpcio-tools (see STUBS_GENERATOR below): newer
grpcio-tools releases emit code that needs newer grpcio/protobuf runtimes than
the Python >= 3.9 range this package promises.
"""

from __future__ import annotations

import argparse
import difflib
import pathlib
import sys
import tempfile

STUBS_GENERATOR = "grpcio-tools==1.62.3"

CLIENT_ROOT = pathlib.Path(__file__).resolve().parent.parent
REPO_ROOT = CLIENT_ROOT.parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
PROTO_FILE = "diagnostics/v1/diagnostics.proto"
STUBS_DIR = CLIENT_ROOT / "src" / "diagd_client" / "_proto" / "diagnostics" / "v1"
GENERATED_FILES = ("diagnostics_pb2.py", "diagnostics_pb2.pyi", "diagnostics_pb2_grpc.py")

ABSOLUTE_IMPORT = "from diagnostics.v1 import diagnostics_pb2"
RELATIVE_IMPORT = "from . import diagnostics_pb2"


def generate() -> dict[str, str]:
    """Runs protoc (from grpcio-tools) and returns {file name: final text}."""
    from grpc_tools import protoc  # imported here so --help works without it

    with tempfile.TemporaryDirectory() as out:
        include = pathlib.Path(protoc.__file__).parent / "_proto"
        status = protoc.main(
            [
                "protoc",
                f"-I{PROTO_ROOT}",
                f"-I{include}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(PROTO_ROOT / PROTO_FILE),
            ]
        )
        if status != 0:
            raise SystemExit(f"protoc failed with status {status}")
        generated = {}
        for name in GENERATED_FILES:
            text = (pathlib.Path(out) / "diagnostics" / "v1" / name).read_text()
            generated[name] = text.replace(ABSOLUTE_IMPORT, RELATIVE_IMPORT)
        return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the checked-in stubs instead of writing them",
    )
    args = parser.parse_args()
    generated = generate()
    if args.check:
        stale = []
        for name, text in generated.items():
            path = STUBS_DIR / name
            current = path.read_text() if path.exists() else ""
            if current != text:
                stale.append(name)
                diff = difflib.unified_diff(
                    current.splitlines(), text.splitlines(), str(path), "generated", lineterm=""
                )
                sys.stdout.writelines(line + "\n" for line in list(diff)[:40])
        if stale:
            print(
                f"stubs out of date with {PROTO_FILE}: {', '.join(stale)}; "
                f"run `pip install {STUBS_GENERATOR} && python {pathlib.Path(__file__).name}`"
            )
            return 1
        print(f"stubs match {PROTO_FILE}")
        return 0
    STUBS_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in generated.items():
        (STUBS_DIR / name).write_text(text)
    print(f"wrote {', '.join(generated)} to {STUBS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
