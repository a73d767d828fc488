"""The reference for opml-gguf: a GGUF file as ggml's own Python reader (gguf-py) sees it.

Usage: toolchain/llm/.venv/bin/python toolchain/llm/gguf_reference.py FILE.gguf > reference.json

Prints JSON (host/gguf/tests/reference.rs compares it with opml-gguf, bit for bit):

- "version", "alignment", "data_offset" (the data section's offset in the file);
- "metadata": every key in file order, {"key", "type", "value"}; types are u8 … f64, string,
  array. Floats are their bit patterns (f32 as u32, f64 as u64). An array's value is
  {"element_type", "len", "sha256", "head", "tail"}: head and tail are its first and last 5
  elements, sha256 is over the elements' canonical encoding (their GGUF encoding: numbers
  little-endian, bool one byte, strings a u64 little-endian length and the UTF-8 bytes);
- "tensors": in file order, {"name", "type" (ggml name), "type_id", "dims" (ggml order, dims[0] is
  the row length), "offset" (in the data section), "n_bytes", "rows"}. "rows" samples the first,
  the middle (count // 2) and the last row: {"row", "bits"} with the row dequantized by
  gguf.quants.dequantize, as f32 bit patterns (u32).
"""

import hashlib
import json
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.quants import dequantize

NAMES = {
    GGUFValueType.UINT8: "u8",
    GGUFValueType.INT8: "i8",
    GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16",
    GGUFValueType.UINT32: "u32",
    GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32",
    GGUFValueType.BOOL: "bool",
    GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array",
    GGUFValueType.UINT64: "u64",
    GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}
EDGE = 5


def scalar(part, vtype):
    """A scalar part (a one-element numpy array) or a string's bytes part as JSON."""
    if vtype == GGUFValueType.STRING:
        return part.tobytes().decode("utf-8")
    if vtype == GGUFValueType.FLOAT32:
        return int(part.view(np.uint32)[0])
    if vtype == GGUFValueType.FLOAT64:
        return int(part.view(np.uint64)[0])
    if vtype == GGUFValueType.BOOL:
        return bool(part[0])
    return int(part[0])


def canonical(part, vtype):
    """An element's canonical encoding (its GGUF encoding)."""
    raw = part.tobytes()
    if vtype == GGUFValueType.STRING:
        return len(raw).to_bytes(8, "little") + raw
    return raw


def field_json(field):
    vtype = field.types[0]
    if vtype != GGUFValueType.ARRAY:
        return {"type": NAMES[vtype], "value": scalar(field.parts[field.data[0]], vtype)}
    if len(field.types) > 2:
        raise SystemExit(f"{field.name}: nested arrays are not in the reference format")
    # An empty array has no element type in field.types: read it from the array header
    # (parts: key length, key, value type, element type, count, elements).
    etype = GGUFValueType(int(field.parts[3][0]))
    parts = [field.parts[i] for i in field.data]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(canonical(part, etype))
    return {
        "type": "array",
        "value": {
            "element_type": NAMES[etype],
            "len": len(parts),
            "sha256": digest.hexdigest(),
            "head": [scalar(p, etype) for p in parts[:EDGE]],
            "tail": [scalar(p, etype) for p in parts[-EDGE:]] if parts else [],
        },
    }


def tensor_json(reader, tensor):
    dims = [int(d) for d in tensor.shape]
    row_len = dims[0] if dims else 1
    # Raw bytes for block types (rows of bytes), values for plain ones: rows of the last axis.
    data = tensor.data.reshape(-1, tensor.data.shape[-1]) if tensor.data.ndim else tensor.data
    count = data.shape[0]
    rows = []
    for row in sorted({0, count // 2, count - 1}) if count else []:
        values = np.asarray(dequantize(data[row], tensor.tensor_type), dtype=np.float32)
        assert values.shape == (row_len,), (tensor.name, values.shape)
        rows.append({"row": row, "bits": values.view(np.uint32).tolist()})
    return {
        "name": tensor.name,
        "type": tensor.tensor_type.name,
        "type_id": int(tensor.tensor_type),
        "dims": dims,
        "offset": int(tensor.data_offset) - int(reader.data_offset),
        "n_bytes": int(tensor.n_bytes),
        "rows": rows,
    }


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    reader = GGUFReader(sys.argv[1])
    metadata = []
    version = None
    for name, field in reader.fields.items():
        if name == "GGUF.version":
            version = int(field.parts[0][0])
        if name.startswith("GGUF."):
            continue
        metadata.append({"key": name, **field_json(field)})
    out = {
        "version": version,
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata": metadata,
        "tensors": [tensor_json(reader, t) for t in reader.tensors],
    }
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
