"""Load foreign PyTorch checkpoints without executing code from the file.

The authors' files pickle tensors next to optimizer state and an OmegaConf ``DictConfig``; unilm's
BEiT v2 files carry an ``argparse.Namespace``; both exist in torch's zip format and in its legacy
(``_use_new_zipfile_serialization=False``) format. A plain ``torch.load`` would run whatever the
pickle asks for. :func:`safe_torch_load` works in two steps, the same for both formats:

1. **Vet every global statically.** The pickles of the file are read opcode by opcode, without
   building any object (the ``data.pkl`` record of a zip file; the five pickles that open a
   legacy file: magic number, protocol, system info, the object, the storage keys), with torch's
   own scanner (``torch._weights_only_unpickler.get_globals_in_pkl``, which applies the same
   Python 2 name mapping as the loader). Each global must be one that torch's ``weights_only``
   unpickler allows by default (tensors, storages, ``OrderedDict``...), a plain builtin data type
   of :data:`DATA_TYPES`, or a configuration class of :data:`PLACEHOLDER_GLOBALS`. Names are
   compared exactly: ``pathlib.os.system`` is not ``pathlib.PosixPath``. Anything else, such as
   ``posix.system`` or ``builtins.eval``, is refused before the file is unpickled at all.
2. **Load with torch's** ``weights_only=True`` **unpickler**, with the configuration classes
   registered (``torch.serialization.safe_globals``) as inert :class:`PickledObject` stand-ins.
   That unpickler reads legacy files too; only torch's static listing
   (``get_unsafe_globals_in_checkpoint``) is limited to zip files, which is why step 1 scans
   legacy streams itself. The restricted unpickler is a second line of defence: a global that
   step 1 missed is still refused there.

Why not a ``pickle.Unpickler`` subclass with a restricted ``find_class`` behind
``torch.load(pickle_module=..., weights_only=False)``: that path hands the rest of the stream
(``REDUCE``, ``BUILD``, persistent ids) to the full Python unpickler and makes us responsible for
re-implementing torch's storage handling safely; the ``weights_only`` unpickler already restricts
every opcode, so we only have to tell it which names stand for placeholders.

A placeholder records what the pickle gave it (``args``, ``state``) and nothing else: no
OmegaConf, argparse or pathlib code is imported or run, and files load when those libraries are
not installed. Every failure is an :class:`UnsafeCheckpointError` whose message is one line
naming the file and the reason.

Before either step, a zip file's directory is checked (:func:`check_zip_sizes`), so that a small
file cannot make the loader inflate gigabytes (a zip bomb): every member's declared size is read
from the directory, and a pickle record over :data:`MAX_PICKLE_BYTES`, a compressed member that
inflates more than :data:`MAX_COMPRESSION_RATIO` times, or members that declare more than
:data:`MAX_INFLATION` times the file's size in all are refused without reading any of them.
Python's and torch's zip readers both stop at a member's declared size, so the check bounds what
loading can allocate. ``torch.save`` writes every member uncompressed (STORED), so an honest file
declares about its own size. A legacy-format file is not compressed: its pickles are read from
the file itself, so what they can make the loader allocate is bounded by the file's size.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

import torch
from torch import _weights_only_unpickler
from torch.serialization import safe_globals

from ffdetect.errors import UserError

#: Builtin data types that configuration pickles reference as values (OmegaConf stores
#: ``object_type=dict``, ``element_type=int`` ...); calling them only builds plain data.
DATA_TYPES: dict[str, type] = {
    f"builtins.{t.__name__}": t
    for t in (dict, list, tuple, set, frozenset, int, float, complex, str, bytes, bool)
} | {"collections.defaultdict": defaultdict}

#: Configuration classes that load as inert :class:`PickledObject` placeholders (exact names).
PLACEHOLDER_GLOBALS = frozenset(
    {
        "argparse.Namespace",
        "omegaconf.base.Box",
        "omegaconf.base.Container",
        "omegaconf.base.ContainerMetadata",
        "omegaconf.base.Metadata",
        "omegaconf.base.Node",
        "omegaconf.basecontainer.BaseContainer",
        "omegaconf.dictconfig.DictConfig",
        "omegaconf.listconfig.ListConfig",
        "omegaconf.nodes.AnyNode",
        "omegaconf.nodes.BooleanNode",
        "omegaconf.nodes.BytesNode",
        "omegaconf.nodes.EnumNode",
        "omegaconf.nodes.FloatNode",
        "omegaconf.nodes.IntegerNode",
        "omegaconf.nodes.PathNode",
        "omegaconf.nodes.StringNode",
        "omegaconf.nodes.UnionNode",
        "omegaconf.nodes.ValueNode",
        "pathlib.Path",
        "pathlib.PosixPath",
        "pathlib.PurePath",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "pathlib.WindowsPath",
        "pathlib._local.Path",
        "pathlib._local.PosixPath",
        "pathlib._local.PurePath",
        "pathlib._local.PurePosixPath",
        "pathlib._local.PureWindowsPath",
        "pathlib._local.WindowsPath",
        "typing.Any",
        "typing.Dict",
        "typing.List",
        "typing.Tuple",
    }
)

#: Pickles at the start of a legacy-format file: magic number, protocol, system info, the
#: object, the storage keys (raw storage bytes follow them).
LEGACY_PICKLES = 5
ZIP_MAGIC = b"PK\x03\x04"

#: Largest pickle record (``data.pkl``) of a zip checkpoint. Tensors live in separate ``data/N``
#: records; the pickle holds only their keys and shapes plus plain data: a ViT-B checkpoint with
#: AdamW state pickles under 1 MB, so 256 MiB leaves a wide margin.
MAX_PICKLE_BYTES = 256 << 20
#: Largest inflation of one compressed member (uncompressed / compressed size); tensors and
#: pickles deflate by well under 10x, a member of repeated bytes by up to ~1000x.
MAX_COMPRESSION_RATIO = 100
#: Largest total declared (uncompressed) size of all members, in multiples of the file's size.
MAX_INFLATION = 10


class UnsafeCheckpointError(UserError, RuntimeError):
    """The file is refused (it asks for something other than tensors and plain data) or cannot
    be read as a PyTorch checkpoint; the message names the file and the reason in one line."""


class CheckpointNotFoundError(UserError, FileNotFoundError):
    """The checkpoint path does not name a file."""


class PickledObject:
    """Inert stand-in for a configuration object found in a checkpoint; it runs no code.

    ``args`` holds what the pickle passed to the class, ``state`` what it set afterwards (for an
    ``argparse.Namespace``, its attributes as a dict).
    """

    _qualified_name = "PickledObject"

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledObject:
        instance = object.__new__(cls)
        instance.__dict__.update(args=args, state=None)
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Accept and ignore constructor arguments (``__new__`` recorded them)."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state

    def __repr__(self) -> str:
        return f"<placeholder for {self._qualified_name}>"


def _placeholder_for(qualified_name: str) -> type:
    return type("PickledObject", (PickledObject,), {"_qualified_name": qualified_name})


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _torch_reason(exc: BaseException) -> str:
    """The informative line of a ``torch.load`` failure (its ``weights_only`` message is long)."""
    for line in str(exc).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip()
    return _one_line(exc)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def check_zip_sizes(path: str | Path) -> None:
    """Refuse a zip checkpoint whose members declare more than loading it should need.

    Reads only the zip directory (no member is inflated); raises :class:`UnsafeCheckpointError`
    naming the file and the member when a pickle record declares more than
    :data:`MAX_PICKLE_BYTES`, a compressed member inflates more than
    :data:`MAX_COMPRESSION_RATIO` times, or all members declare more than :data:`MAX_INFLATION`
    times the file's size.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    refusal = f"refusing to load {path}: it may be a zip bomb"
    for info in members:
        if info.filename.endswith(".pkl") and info.file_size > MAX_PICKLE_BYTES:
            raise UnsafeCheckpointError(
                f"{refusal}: its pickle record {info.filename} declares {_mib(info.file_size)} "
                f"(the limit is {_mib(MAX_PICKLE_BYTES)}; tensors belong in their own records)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.compress_type != zipfile.ZIP_STORED and ratio > MAX_COMPRESSION_RATIO:
            raise UnsafeCheckpointError(
                f"{refusal}: its member {info.filename} inflates {ratio:.0f} times "
                f"({_mib(info.compress_size)} to {_mib(info.file_size)}; the limit is "
                f"{MAX_COMPRESSION_RATIO} times, torch.save does not compress)"
            )
    declared = sum(info.file_size for info in members)
    if declared > MAX_INFLATION * path.stat().st_size:
        raise UnsafeCheckpointError(
            f"{refusal}: its members declare {_mib(declared)} in all, more than "
            f"{MAX_INFLATION} times the file's {_mib(path.stat().st_size)}"
        )


def _zip_pickle(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        records = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(records) != 1:
            raise ValueError("the zip archive has no single <archive>/data.pkl record")
        return archive.read(records[0])


def _globals_in_pickles(stream: IO[bytes], count: int) -> set[str]:
    names: set[str] = set()
    for _ in range(count):
        names |= _weights_only_unpickler.get_globals_in_pkl(stream)
    return names


def checkpoint_globals(path: str | Path) -> set[str]:
    """Every global (``module.name``) that the pickles of a ``torch.save`` file reference, read
    without unpickling anything; zip and legacy formats."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        check_zip_sizes(path)
        return _globals_in_pickles(io.BytesIO(_zip_pickle(path)), 1)
    with path.open("rb") as fh:
        if fh.read(4) == ZIP_MAGIC:
            raise ValueError("truncated or corrupt zip archive")
        fh.seek(0)
        try:
            return _globals_in_pickles(fh, LEGACY_PICKLES)
        except Exception as exc:  # noqa: BLE001 - reported as what the file is not
            raise ValueError(
                f"neither a zip archive nor a legacy torch.save stream ({exc})"
            ) from exc


def refused_globals(names: set[str]) -> list[str]:
    """The names that are neither torch's default ``weights_only`` globals nor ours, sorted."""
    allowed = set(_weights_only_unpickler._get_allowed_globals()) | set(DATA_TYPES)
    return sorted(n for n in names if n not in allowed and n not in PLACEHOLDER_GLOBALS)


def safe_torch_load(path: str | Path, mmap: bool = False) -> Any:
    """Load a ``torch.save`` file (zip or legacy format) holding tensors and plain data.

    Configuration objects come back as :class:`PickledObject` placeholders; anything that could
    execute code, and anything unreadable, raises :class:`UnsafeCheckpointError`. ``mmap``
    memory-maps the tensors of a zip-format file (to read a few fields of a large one).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise UnsafeCheckpointError(f"{path} is not a readable PyTorch checkpoint: empty file")
    try:
        names = checkpoint_globals(path)
    except UnsafeCheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means we will not load it
        raise UnsafeCheckpointError(
            f"{path} is not a readable PyTorch checkpoint: {_one_line(exc)}"
        ) from exc
    refused = refused_globals(names)
    if refused:
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it asks to import or call {', '.join(refused)}, which could "
            "execute code; only tensors and plain configuration objects are accepted"
        )
    registered: list[Any] = [(_placeholder_for(n), n) for n in sorted(names & PLACEHOLDER_GLOBALS)]
    registered += [(DATA_TYPES[n], n) for n in sorted(names & set(DATA_TYPES))]
    try:
        with safe_globals(registered):
            return torch.load(
                path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path)
            )
    except Exception as exc:  # noqa: BLE001
        reason = _torch_reason(exc)
        if "Unsupported global" in reason or "unrecognized function" in reason:
            raise UnsafeCheckpointError(f"refusing to load {path}: {reason}") from exc
        raise UnsafeCheckpointError(
            f"{path} is not a readable PyTorch checkpoint: {reason}"
        ) from exc
