"""Training the learned change detector (PyTorch, optional extra `[train]`).

Detection never imports this package: it runs the exported ONNX model through ONNX
Runtime (`sitewatch.detect.learned`). The modules here import only numpy, scipy and
torch, so training also runs on a machine that has no GDAL (the prepared data travels
as one `.npz` file made by `sitewatch model prepare`).
"""
