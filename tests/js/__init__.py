"""The js resident: matrix-js-sdk with its Rust crypto, driven from pytest."""
