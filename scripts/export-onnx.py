#!/usr/bin/env python3
"""Export a biotable model folder (what `biotable train` writes) to ONNX for the onnx backend.

    scripts/export-onnx.sh MODEL_DIR            # the wrapper: sets up the venv, then runs this

Writes beside the safetensors:
  model.int8.onnx  the graph after ONNX Runtime's transformer optimizer, with dynamic int8
                   quantization (per-channel weights); what `--backend onnx` runs.
  model.onnx       (with --keep-fp32) the plain fp32 graph, for parity checks against tch.

The word-embedding table (half of all weights) is stored once, for both engines: the export
rewrites it in model.safetensors as int8 with one fp32 scale per row
(`bert.embeddings.word_embeddings.weight.q8` and `.q8scale`; tch dequantizes it on load), and
model.int8.onnx reads those bytes from model.safetensors as ONNX external data. That keeps the
model folder within its 50 MB budget. Exporting into another folder (--out) keeps the table
inside the ONNX file and leaves model.safetensors alone.

No PyTorch: the graph is written operator by operator with `onnx.helper` from the safetensors
weights, mirroring `Tagger::forward_t` in src/ner/backend/tch.rs (rust-bert's BertModel with
token types at zero, erf GELU, LayerNorm eps from config.json, extended mask (1 - m) * -10000,
then [hidden | shape embedding | summed lexicon embedding] -> linear head).

Inputs follow rust-bert's ONNXEncoder names:
  input_ids       int64 [batch, len]
  attention_mask  int64 [batch, len]
  token_type_ids  int64 [batch, len]  the word-shape id + NUM_SHAPES * lexicon code, where the
                                      lexicon code is sum_k state_k * 3^k over the categories
                                      (see `backend::pack_features` in Rust)
Output:
  logits          float [batch, len, types, 3]
"""
import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

# Must match src/ner/encode.rs NUM_SHAPES and src/ner/lexfeat.rs LEX_CATEGORIES / LEX_STATES.
NUM_SHAPES = 24
LEX_CATEGORIES = 6
LEX_STATES = 3
NUM_TAGS = 3
OPSET = 17
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
Q8, Q8_SCALE = ".q8", ".q8scale"


def read_weights(model_dir):
    """All tensors of model.safetensors as fp32, int8-packed ones (name.q8 + name.q8scale)
    dequantized; plus the raw packed word-embedding table when there is one."""
    raw = load_file(os.path.join(model_dir, "model.safetensors"))
    w = {}
    for k, v in raw.items():
        if k.endswith(Q8):
            w[k[: -len(Q8)]] = v.astype(np.float32) * raw[k[: -len(Q8)] + Q8_SCALE][:, None]
        elif not k.endswith(Q8_SCALE):
            w[k] = v.astype(np.float32)
    return w, raw


def pack_word_embeddings(model_dir):
    """Rewrite model.safetensors with the word-embedding table as int8 + per-row scales
    (idempotent). Returns the packed (int8, scale) arrays."""
    path = os.path.join(model_dir, "model.safetensors")
    raw = load_file(path)
    if WORD_EMBEDDINGS + Q8 not in raw:
        table = raw.pop(WORD_EMBEDDINGS).astype(np.float32)
        scale = np.abs(table).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        raw[WORD_EMBEDDINGS + Q8] = np.clip(np.rint(table / scale[:, None]), -127, 127).astype(np.int8)
        raw[WORD_EMBEDDINGS + Q8_SCALE] = scale.astype(np.float32)
        from safetensors.numpy import save_file

        tmp = path + ".partial"
        save_file(raw, tmp)
        os.replace(tmp, path)
        print(f"[export] packed {WORD_EMBEDDINGS} as int8 in {path}", file=sys.stderr)
    return raw[WORD_EMBEDDINGS + Q8], raw[WORD_EMBEDDINGS + Q8_SCALE]


def safetensors_offsets(path):
    """name -> (absolute byte offset, length) of each tensor in a safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return {k: (8 + n + v["data_offsets"][0], v["data_offsets"][1] - v["data_offsets"][0])
            for k, v in header.items() if k != "__metadata__"}


def externalize(model, model_dir):
    """Point the packed word-embedding initializers at their bytes in model.safetensors."""
    offsets = safetensors_offsets(os.path.join(model_dir, "model.safetensors"))
    names = {"word_embeddings_q8": WORD_EMBEDDINGS + Q8, "word_embeddings_scale": WORD_EMBEDDINGS + Q8_SCALE}
    found = 0
    for t in model.graph.initializer:
        if t.name in names:
            offset, length = offsets[names[t.name]]
            if len(t.raw_data) != length:
                sys.exit(f"{t.name}: {len(t.raw_data)} bytes in the graph, {length} in model.safetensors")
            t.ClearField("raw_data")
            t.data_location = TensorProto.EXTERNAL
            del t.external_data[:]
            for key, value in (("location", "model.safetensors"), ("offset", str(offset)), ("length", str(length))):
                entry = t.external_data.add()
                entry.key, entry.value = key, value
            found += 1
    if found != 2:
        sys.exit("the graph lost its word-embedding initializers; cannot share them")
    return model


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, array, base="c", exact=False):
        name = base if exact else self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, base=None, **attrs):
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def linear(g, x, w, b, base):
    """x @ w.T + b, w in torch layout [out, in] (stored transposed for MatMul)."""
    wt = g.const(np.ascontiguousarray(w.T.astype(np.float32)), base + "_weight")
    bias = g.const(b.astype(np.float32), base + "_bias")
    return g.op("Add", [g.op("MatMul", [x, wt]), bias])


def layer_norm(g, x, w, b, eps, base):
    return g.op(
        "LayerNormalization",
        [x, g.const(w.astype(np.float32), base + "_gamma"), g.const(b.astype(np.float32), base + "_beta")],
        axis=-1,
        epsilon=eps,
    )


def build(model_dir, packed):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    bio = json.load(open(os.path.join(model_dir, "biotable.json")))
    w, _ = read_weights(model_dir)
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    types = len(bio["labels"])
    if cfg.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"unsupported activation {cfg.get('hidden_act')}")

    g = Graph()
    ids, mask, feats = "input_ids", "attention_mask", "token_type_ids"
    p = "bert.embeddings."
    if packed is not None:
        # The int8 table and its row scales (see pack_word_embeddings), dequantized per lookup.
        q8, scale = packed
        table = g.op("Gather", [g.const(q8, "word_embeddings_q8", exact=True), ids])
        row_scale = g.op("Gather", [g.const(scale, "word_embeddings_scale", exact=True), ids])
        word = g.op("Mul", [g.op("Cast", [table], to=TensorProto.FLOAT), g.op("Unsqueeze", [row_scale, g.const(np.array([-1], dtype=np.int64))])])
    else:
        word = g.op("Gather", [g.const(w[p + "word_embeddings.weight"], "word_embeddings"), ids])
    seq_len = g.op("Gather", [g.op("Shape", [ids]), g.const(np.array(1, dtype=np.int64))])
    positions = g.op("Range", [g.const(np.array(0, dtype=np.int64)), seq_len, g.const(np.array(1, dtype=np.int64))])
    pos = g.op("Gather", [g.const(w[p + "position_embeddings.weight"], "position_embeddings"), positions])
    # rust-bert runs with token types at zero: row 0 of the type table, added to every piece.
    emb = g.op("Add", [g.op("Add", [word, pos]), g.const(w[p + "token_type_embeddings.weight"][0], "token_type0")])
    x = layer_norm(g, emb, w[p + "LayerNorm.weight"], w[p + "LayerNorm.bias"], eps, "emb_ln")

    # Extended mask [batch, 1, 1, len]: 0 where attended, -10000 where padding.
    # (Written as HF's BERT export writes it, so the optimizer's attention fusion finds it.)
    m = g.op("Unsqueeze", [mask, g.const(np.array([1], dtype=np.int64))])
    m = g.op("Unsqueeze", [m, g.const(np.array([2], dtype=np.int64))])
    m = g.op("Cast", [m], to=TensorProto.FLOAT)
    ext = g.op("Mul", [g.op("Sub", [g.const(np.array(1.0, dtype=np.float32)), m]), g.const(np.array(-10000.0, dtype=np.float32))])

    split_heads = g.const(np.array([0, 0, heads, head_dim], dtype=np.int64), "split_heads")
    merge_heads = g.const(np.array([0, 0, hidden], dtype=np.int64), "merge_heads")
    scale = g.const(np.array(math.sqrt(head_dim), dtype=np.float32), "scale")
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}."
        a = p + "attention."

        def proj(name, perm):
            t = linear(g, x, w[a + f"self.{name}.weight"], w[a + f"self.{name}.bias"], f"l{i}_{name}")
            return g.op("Transpose", [g.op("Reshape", [t, split_heads])], perm=perm)

        q = proj("query", [0, 2, 1, 3])
        k = proj("key", [0, 2, 3, 1])
        v = proj("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), scale]), ext])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_heads])
        attn = linear(g, ctx, w[a + "output.dense.weight"], w[a + "output.dense.bias"], f"l{i}_attn_out")
        x = layer_norm(g, g.op("Add", [attn, x]), w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"], eps, f"l{i}_attn_ln")
        inter = linear(g, x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"], f"l{i}_inter")
        gelu = g.op(
            "Mul",
            [
                g.op("Mul", [inter, g.op("Add", [g.op("Erf", [g.op("Div", [inter, g.const(np.array(math.sqrt(2.0), dtype=np.float32))])]), g.const(np.array(1.0, dtype=np.float32))])]),
                g.const(np.array(0.5, dtype=np.float32)),
            ],
        )
        out = linear(g, gelu, w[p + "output.dense.weight"], w[p + "output.dense.bias"], f"l{i}_out")
        x = layer_norm(g, g.op("Add", [out, x]), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps, f"l{i}_out_ln")

    parts = [x]
    if bio.get("shape_dim", 0) > 0:
        shape_ids = g.op("Mod", [feats, g.const(np.array(NUM_SHAPES, dtype=np.int64))])
        parts.append(g.op("Gather", [g.const(w["shape_embedding.weight"], "shape_embedding"), shape_ids]))
    if bio.get("lexicon_dim", 0) > 0:
        # Every combination of category states, summed ahead of time: one lookup per piece.
        lex = w["lex_embedding.weight"]
        codes = LEX_STATES ** LEX_CATEGORIES
        table = np.zeros((codes, lex.shape[1]), dtype=np.float32)
        for code in range(codes):
            c = code
            for k in range(LEX_CATEGORIES):
                table[code] += lex[k * LEX_STATES + c % LEX_STATES]
                c //= LEX_STATES
        lex_code = g.op("Div", [feats, g.const(np.array(NUM_SHAPES, dtype=np.int64))])
        parts.append(g.op("Gather", [g.const(table, "lex_combinations"), lex_code]))
    features = g.op("Concat", parts, axis=-1) if len(parts) > 1 else parts[0]
    logits = linear(g, features, w["head.weight"], w["head.bias"], "head")
    out_shape = g.const(np.array([0, 0, types, NUM_TAGS], dtype=np.int64), "out_shape")
    g.nodes.append(helper.make_node("Reshape", [logits, out_shape], ["logits"], name="logits"))

    dims = ["batch", "len"]
    graph = helper.make_graph(
        g.nodes,
        "biotable-ner",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in (ids, mask, feats)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, dims + [types, NUM_TAGS])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="biotable")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--out", help="folder to write into (default: the model folder)")
    ap.add_argument("--keep-fp32", action="store_true", help="also write model.onnx (fp32, not optimized)")
    ap.add_argument("--fp32-only", action="store_true", help="write model.onnx only")
    ap.add_argument("--reduce-range", action="store_true",
                    help="7-bit weights, for AVX2 CPUs without VNNI, where 8-bit weights can saturate int16 "
                         "accumulators (default: 8-bit; on this project's VNNI machine 8-bit weights gave tch's "
                         "exact spans on the parity fixtures, 7-bit weights missed one with the 5-layer model)")
    ap.add_argument("--no-optimize", action="store_true", help="skip the transformer optimizer")
    args = ap.parse_args()
    out_dir = args.out or args.model_dir
    os.makedirs(out_dir, exist_ok=True)
    share = os.path.realpath(out_dir) == os.path.realpath(args.model_dir) and not args.fp32_only
    if share:
        packed = pack_word_embeddings(args.model_dir)
    else:
        _, raw = read_weights(args.model_dir)
        if WORD_EMBEDDINGS + Q8 in raw:
            packed = raw[WORD_EMBEDDINGS + Q8], raw[WORD_EMBEDDINGS + Q8_SCALE]
        else:
            packed = None  # a plain table, as tch reads it
    model, cfg = build(args.model_dir, packed)

    def write(m, name):
        path = os.path.join(out_dir, name)
        tmp = path + ".partial"
        with open(tmp, "wb") as f:
            f.write(m.SerializeToString())
        os.replace(tmp, path)
        print(f"[export] wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)", file=sys.stderr)
        return path

    if args.fp32_only or args.keep_fp32:
        write(model, "model.onnx")
    if args.fp32_only:
        return

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain.onnx")
        onnx.save(model, plain)
        src = plain
        if not args.no_optimize:
            opt = optimize_model(
                plain,
                model_type="bert",
                num_heads=cfg["num_attention_heads"],
                hidden_size=cfg["hidden_size"],
                opt_level=0,
            )
            stats = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
            print(f"[export] transformer optimizer fused: {stats}", file=sys.stderr)
            src = os.path.join(tmp, "optimized.onnx")
            opt.save_model_to_file(src)
        quantized = os.path.join(tmp, "int8.onnx")
        quantize_dynamic(
            src,
            quantized,
            per_channel=True,
            reduce_range=args.reduce_range,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        final = onnx.load(quantized)
        write(externalize(final, args.model_dir) if share else final, "model.int8.onnx")


if __name__ == "__main__":
    main()
