"""Graph operations on exported change models (needs `onnx`, never torch).

Averaging several networks into one ensemble file, quantising it to int8 and pruning what
it computes from zeros. Beside the detection stack, like `sitewatch.train`: the stack only
reads the files these write (`sitewatch.detect.learned`), through `ModelMetadata`.
"""
