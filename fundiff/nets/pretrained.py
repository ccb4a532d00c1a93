"""``save_pretrained`` / ``from_config`` for the project's own networks, in diffusers' format, without importing diffusers.

A checkpoint directory holds ``config.json`` (the constructor's arguments, ``_class_name`` and ``_diffusers_version``,
indent 2, sorted keys) and ``diffusion_pytorch_model.safetensors`` (the state dict, metadata ``{"format": "pt"}``):
byte for byte what diffusers' ``ModelMixin.save_pretrained`` writes for the same module (a test checks this), so
anyone with diffusers and these classes can read them. Importing diffusers costs about 2 s of start-up (it pulls in
``torch._dynamo`` and transformers) in every stage that touches a network; this module costs nothing beyond torch.
Loading is strict and offline (:func:`load_pretrained`): diffusers' ``from_pretrained`` would try the Hugging Face Hub
for a missing directory, warn (not fail) on a model of another class and may initialise missing weights at random.
Here every problem is one ``FundiffError`` line: the file and the fix.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from fundiff.errors import FundiffError

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
CONFIG_NAME = "config.json"

P = TypeVar("P", bound="Pretrained")
M = TypeVar("M")


class FrozenConfig(dict):
    """The constructor's arguments: a read-only dict whose keys are also attributes (``model.config.num_hiddens``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __reduce__(self):  # copy.deepcopy (AveragedModel copies the network) rebuilds it whole, not key by key
        return (type(self), (dict(self),))

    def _readonly(self, *args, **kwargs):
        raise TypeError("a model's config is read-only; build a new model instead")

    __setitem__ = __delitem__ = update = pop = popitem = setdefault = clear = _readonly  # type: ignore[assignment]


def register_config(init):
    """Decorate ``__init__`` of a :class:`Pretrained` network: its arguments (defaults filled in) become ``config``."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        self.config = FrozenConfig({k: v for k, v in bound.arguments.items() if k != "self"})

    return wrapper


def diffusers_version() -> str:
    """The format's version tag, as diffusers writes it (read from the installed package's metadata, not imported)."""
    try:
        return metadata.version("diffusers")
    except metadata.PackageNotFoundError:
        return "0.0.0"


class Pretrained(nn.Module):
    """A network saved and rebuilt from its constructor's arguments (``config``), in diffusers' directory format."""

    config: FrozenConfig

    @classmethod
    def from_config(cls: type[P], config: dict[str, Any]) -> P:
        return cls(**config)

    @classmethod
    def from_pretrained(cls: type[P], directory: str | Path, fix: str = "save the model again") -> P:
        """The model saved in ``directory``, in eval mode (:func:`load_pretrained`)."""
        return load_pretrained(cls, directory, fix)

    def config_json(self) -> str:
        record = {**self.config, "_class_name": type(self).__name__, "_diffusers_version": diffusers_version()}
        return json.dumps(record, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and the safetensors weights into ``directory`` (created if needed)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CONFIG_NAME).write_text(self.config_json())
        weights = directory / WEIGHTS_NAME
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(weights), metadata={"format": "pt"})


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_pretrained(cls: type[M], path: str | Path, fix: str, sha256: str | None = None) -> M:
    """Load ``cls`` from a ``save_pretrained`` directory; any missing, truncated or foreign file -> FundiffError.
    ``sha256``: the digest its weights must have (recorded at training), which catches damaged tensor bytes that a
    well-formed header would otherwise hide (NaN samples, silently wrong results)."""
    from safetensors.torch import load_file

    path = Path(path)
    config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
    for file in (config_path, weights_path):
        if not file.is_file():
            raise FundiffError(f"{file} is missing; {fix}")
    if sha256 is not None and file_sha256(weights_path) != sha256:
        raise FundiffError(
            f"{weights_path} does not match the sha256 recorded when it was trained (the file is damaged); restore it "
            f"with `dvc checkout` or {fix}"
        )
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as error:
        raise FundiffError(f"{config_path} is not valid JSON ({error}); {fix}") from None
    found = config.get("_class_name") if isinstance(config, dict) else None
    if found != cls.__name__:
        raise FundiffError(f"{config_path} holds a {found or 'unknown model'}, not a {cls.__name__}; {fix}")
    try:
        state = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types for truncated or garbled files
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FundiffError(
            f"{weights_path} cannot be read ({first}); the file is truncated or corrupt; {fix}"
        ) from None
    try:
        model = cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as error:
        first = str(error).splitlines()[0]
        raise FundiffError(f"{weights_path} does not fit {cls.__name__} with {config_path} ({first}); {fix}") from None
    return model.eval()
