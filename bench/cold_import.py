"""Section 4 of the benchmark alone: the cold import of some handlers, measured as ``bench/measure.py`` does.

    python -m bench.cold_import [--runs N] [--rebuild] [HANDLER ...]     (HANDLER: a folder of functions/, or floor)

The layer is built once by its Makefile (as ``make bench`` does) into ``--workdir`` and reused; the shared
package is copied and compiled into it again at every run, so an edit of ``layers/shared/bluegreen`` is measured
without rebuilding. ``--rebuild`` after a change of ``layers/shared/requirements.txt`` (cold start).
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import measure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("handlers", nargs="*", help="folders of functions/ (default: all, and the floor)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="build the layer again")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bluegreen-cold-import")
    args = parser.parse_args(argv)
    layer = _layer(args.workdir, args.rebuild)
    package = layer.python / "bluegreen"
    shutil.rmtree(package)
    shutil.copytree(
        measure.ROOT / "layers" / "shared" / "bluegreen", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(package)], check=True
    )
    floor = layer.python.parent / "floor"
    floor.mkdir(exist_ok=True)
    (floor / "app.py").write_text(measure.FLOOR_APP)
    names = args.handlers or [app.parent.name for app in sorted((measure.ROOT / "functions").glob("*/app.py"))]
    for name in names if args.handlers else [*names, "floor"]:
        code_dir = floor if name == "floor" else measure.ROOT / "functions" / name
        samples = measure._import_samples(code_dir, layer.python, layer.runtime_sdk, args.runs)
        runs = [cpu for cpu, _ in samples]
        heaviest = ", ".join(f"{module} {us / 1000:.0f}" for module, us in samples[len(samples) // 2][1][:4])
        measure.say(
            f"{name:<16} median {statistics.median(runs) / 1000:6.1f} ms  min {min(runs) / 1000:6.1f} ms"
            f"  (heaviest imports, importtime ms: {heaviest})"
        )


def _layer(workdir: Path, rebuild: bool) -> measure.LayerBuild:
    cached = workdir / "layer.pickle"
    if rebuild or not cached.exists():
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        cached.write_bytes(pickle.dumps(measure.build_layer(workdir)))
    return pickle.loads(cached.read_bytes())  # noqa: S301 - our own file, written just above


if __name__ == "__main__":
    main()
