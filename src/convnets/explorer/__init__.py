"""The explorer: a static site that runs the exported model in the browser (onnxruntime-web).

`graph` adds the conv and pool layers' outputs to a copy of the model, `patches` finds each
channel's top test patches with onnxruntime, `site` writes the folder, `serve` serves it on
127.0.0.1 (`convnets explore`). No torch anywhere here: the site is built from the ONNX file.
"""
