"""A copy of the exported model that also outputs every conv and pool layer's feature maps.

`best.onnx` stays as it is; the explorer's copy adds the outputs of its Conv, MaxPool and
AveragePool nodes as extra graph outputs, so one onnxruntime-web call gives the prediction and
every layer the page draws. Each layer's receptive field (size, jump, offset in input pixels)
is derived from the graph's kernel, stride and padding attributes, for the top-patch crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper, numpy_helper

from convnets.onnx.metadata import INPUT

TAPPED = ("Conv", "MaxPool", "AveragePool")  # global pools are not maps


@dataclass(frozen=True)
class Layer:
    output: str  # graph output name: the node's output tensor, (1, C, h, w) float32
    label: str  # what the page calls it: "conv 1", "pool 1", ...
    op: str
    field: tuple[int, int, int]  # receptive field: size, jump (stride in input pixels), start


def with_feature_maps(model: bytes) -> tuple[bytes, list[Layer], list]:
    """(the model with the maps as extra outputs, the layers, the first conv's weights)."""
    proto = onnx.load_from_string(model)
    graph = proto.graph
    producers = {out: node for node in graph.node for out in node.output}
    weights = {t.name: t for t in graph.initializer}
    layers, counts, first = [], {"conv": 0, "pool": 0}, None
    for node in graph.node:
        if node.op_type not in TAPPED:
            continue
        kind = "conv" if node.op_type == "Conv" else "pool"
        counts[kind] += 1
        field = derive_receptive_field(node.output[0], producers, {})
        layers.append(Layer(node.output[0], f"{kind} {counts[kind]}", node.op_type, field))
        graph.output.append(
            helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, None)
        )
        if kind == "conv" and first is None and node.input[1] in weights:
            first = numpy_helper.to_array(weights[node.input[1]]).tolist()  # (C_out, C_in, k, k)
    return proto.SerializeToString(), layers, first


def derive_receptive_field(tensor: str, producers: dict, memo: dict) -> tuple[int, int, int]:
    """(size, jump, start) of one element of `tensor`, in input pixels, along one axis.

    Square kernels and symmetric strides are assumed (all our models); where branches meet
    (a residual Add) the wider field is kept.
    """
    if tensor in memo:
        return memo[tensor]
    node = producers.get(tensor)
    if node is None:  # the graph input or a weight
        return (1, 1, 0) if tensor == INPUT else (0, 1, 0)
    fields = [derive_receptive_field(name, producers, memo) for name in node.input]
    size, jump, start = max(fields[:1] if node.op_type in TAPPED else fields, default=(0, 1, 0))
    if node.op_type in TAPPED:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        kernel = attrs.get("kernel_shape", [1])[0]
        stride = attrs.get("strides", [1])[0]
        pad = attrs.get("pads", [0])[0]
        dilation = attrs.get("dilations", [1])[0]
        extent = (kernel - 1) * dilation + 1
        size, start, jump = size + (extent - 1) * jump, start - pad * jump, jump * stride
    memo[tensor] = (size, jump, start)
    return memo[tensor]
