//! Generates the Rust messages of ONNX's wire format from ONNX's own schema (`src/net/onnx/onnx.proto`, the ONNX
//! project's `onnx.proto3`), with rust-protobuf's pure-Rust generator: `net::onnx` reads a model through them.

fn main() {
    protobuf_codegen::Codegen::new()
        .pure()
        .include("src/net/onnx")
        .input("src/net/onnx/onnx.proto")
        .cargo_out_dir("onnx")
        .run_from_script();
}
