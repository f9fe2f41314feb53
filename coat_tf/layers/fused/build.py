"""Build the fused chord attention op: ``python -m coat_tf.layers.fused.build``.

Compiles ``chord_scores.cc`` with the system C++ compiler (``$CXX``, else ``g++``, else
``c++``) and the installed TensorFlow's own flags (``tf.sysconfig``) into ``_chord_scores.so``
beside it, written atomically: a failed build leaves no library behind. ``make install`` runs
it and goes on when it fails; the layer then uses the split form.

Exit status: 0 built, 1 not built (one line on stderr saying why).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from coat_tf.fileio import atomic_write_bytes
from coat_tf.layers.fused.loader import LIBRARY, SOURCE

OPTIMISATION = ["-O3", "-march=native", "-fopenmp-simd", "-w"]


def find_compiler() -> str | None:
    """The C++ compiler to use: ``$CXX`` when set, else ``g++`` or ``c++`` on the PATH."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++"]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def compile_command(compiler: str, output: Path) -> list[str]:
    """The compiler's command line for ``chord_scores.cc`` against the installed TensorFlow."""
    import tensorflow as tf

    return [
        compiler,
        "-shared",
        "-fPIC",
        *OPTIMISATION,
        *tf.sysconfig.get_compile_flags(),
        str(SOURCE),
        "-o",
        str(output),
        *tf.sysconfig.get_link_flags(),
    ]


def build(target: Path = LIBRARY) -> None:
    """Compile the op into ``target``.

    Raises:
        RuntimeError: no compiler, or the compiler failed (its first error line in the message).
    """
    compiler = find_compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (g++, c++ or $CXX)")
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / target.name
        result = subprocess.run(
            compile_command(compiler, output), capture_output=True, text=True, check=False
        )
        if result.returncode != 0 or not output.is_file():
            lines = [line for line in result.stderr.splitlines() if "error" in line]
            detail = lines[0].strip() if lines else f"exit status {result.returncode}"
            raise RuntimeError(f"{Path(compiler).name} failed: {detail}")
        atomic_write_bytes(target, output.read_bytes())


def main(argv: list[str] | None = None) -> int:
    """Build the op; returns the exit status (see the module docstring)."""
    del argv
    try:
        build(LIBRARY)
    except (RuntimeError, OSError) as error:
        print(
            f"error: {SOURCE.name}: fused chord attention not built ({error}); "
            "COAT will use the split form",
            file=sys.stderr,
        )
        return 1
    print(f"built {LIBRARY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
