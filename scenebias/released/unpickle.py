"""Reading the authors' released `.npy` files without running their pickles.

The releases are dicts saved with `np.save`: a 0-d object array whose data is a pickle. `np.load(...,
allow_pickle=True)` on such a file runs whatever the file tells the unpickler to call, so a tampered or
substituted file could run any code on the machine. `load_pickled_npy` reads the `.npy` header with numpy's own
format functions and unpickles the payload with an unpickler that resolves only the globals numpy's pickles of
plain data refer to (array and scalar reconstruction, ndarray, dtype, under both numpy 1's `numpy.core` and numpy
2's `numpy._core` names); dicts, lists, tuples, strings, bytes and numbers need no global. Any other global —
`os.system`, `builtins.eval`, a class of some package — stops the load with an error naming the file and the
refused object, before anything is called.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format


class UnsafeReleaseFile(pickle.UnpicklingError):
    """A released file asked for something other than plain data."""


def _numpy_globals() -> dict[tuple[str, str], object]:
    """(module, name) -> object for every global a numpy pickle of plain arrays and scalars may name."""
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):  # the name a file uses depends on the numpy that wrote it
        for module in ("multiarray", "_multiarray_umath"):
            allowed[(f"{package}.{module}", "_reconstruct")] = multiarray._reconstruct
            allowed[(f"{package}.{module}", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer  # pickle protocol 5 arrays
    return allowed


ALLOWED_GLOBALS = _numpy_globals()


class _PlainDataUnpickler(pickle.Unpickler):
    def __init__(self, stream, source: Path):
        super().__init__(stream, encoding="latin1")  # latin1: numpy's advice for arrays pickled by Python 2
        self.source = source

    def find_class(self, module: str, name: str):
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise UnsafeReleaseFile(
                f"{self.source}: refused to load: the file asks to call {module}.{name}, which is not plain data "
                "(the released files hold only dicts, lists, strings, numbers and numpy arrays). The file is not "
                "the authors' release or was altered; delete it and unpack the archive again"
            )
        return found

    def persistent_load(self, pid):
        raise UnsafeReleaseFile(f"{self.source}: refused to load: the file references an external object {pid!r}")


def load_pickled_npy(path: Path | str):
    """The object saved in an `.npy` file with `np.save(path, obj)` (a 0-d object array; the object returned),
    or an array saved plainly; pickled content admitted only if it is plain data (UnsafeReleaseFile otherwise)."""
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            version = npy_format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = npy_format.read_array_header_2_0(fh)
        except ValueError as exc:
            raise ValueError(f"{path}: not a .npy file: {exc}") from None
        if not dtype.hasobject:  # a plain array: no pickle involved
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
        try:
            array = _PlainDataUnpickler(fh, path).load()
        except UnsafeReleaseFile:
            raise
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as exc:
            raise ValueError(f"{path}: damaged or not a numpy pickle: {type(exc).__name__}: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: expected a numpy array in the file, got {type(array).__name__}")
    return array.item() if array.shape == () else array
