"""Front ends: ONNX import and export of the IR."""
