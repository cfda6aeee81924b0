"""Exports a small Keras functional model (Conv2D, MaxPooling2D, Add, ReLU, Flatten,
Dense; NHWC) to a float ONNX model in NCHW layout, the way PyTorch would export the
same network: Conv + Relu, MaxPool, Add, Flatten, Gemm (transB=1). Written by hand
(onnx.helper) because the layer set is small and a converter would add a dependency
whose output changes between versions.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7  # the IR version that goes with opset 13


def _pads(layer, kh: int, kw: int) -> list[int]:
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    if tuple(layer.strides) != (1, 1) or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"{layer.name}: 'same' padding is exported for odd kernels at stride 1 only")
    return [kh // 2, kw // 2, kh // 2, kw // 2]


def keras_to_onnx(model, graph_name: str, producer: str) -> onnx.ModelProto:
    """The ONNX form of `model`: input `x` [1, C, H, W], output `logits` [1, classes]."""
    import keras

    nodes, inits = [], []
    names = {}  # id(KerasTensor) -> ONNX value name
    shapes = {}  # ONNX value name -> NCHW shape of one sample (after Flatten: [features])
    unflattened = {}  # Flatten output -> the [C, H, W] it flattened
    (h, w, c) = model.input.shape[1:]
    names[id(model.input)] = "x"
    shapes["x"] = [c, h, w]

    def src(t):
        return names[id(t)]

    def relu(name: str, value: str) -> str:
        nodes.append(helper.make_node("Relu", [value], [f"{name}.relu"], name=f"{name}_Relu"))
        shapes[f"{name}.relu"] = shapes[value]
        return f"{name}.relu"

    def activation(layer, value: str) -> str:
        act = layer.activation.__name__ if hasattr(layer, "activation") else "linear"
        if act == "relu":
            return relu(layer.name, value)
        if act != "linear":
            raise ValueError(f"{layer.name}: activation {act} is not exported")
        return value

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        out = f"{layer.name}.out"
        if isinstance(layer, keras.layers.Conv2D):
            k, b = layer.get_weights()  # k: [kh, kw, C, M]
            kh, kw = k.shape[:2]
            inits += [
                numpy_helper.from_array(np.ascontiguousarray(k.transpose(3, 2, 0, 1)), f"{layer.name}.weight"),
                numpy_helper.from_array(b, f"{layer.name}.bias"),
            ]
            nodes.append(helper.make_node(
                "Conv", [src(layer.input), f"{layer.name}.weight", f"{layer.name}.bias"], [out],
                name=f"{layer.name}_Conv", kernel_shape=[kh, kw], pads=_pads(layer, kh, kw),
                strides=list(layer.strides)))
            _, ih, iw = shapes[src(layer.input)]
            shapes[out] = [k.shape[3], ih, iw] if layer.padding == "same" else [k.shape[3], ih - kh + 1, iw - kw + 1]
            out = activation(layer, out)
        elif isinstance(layer, keras.layers.MaxPooling2D):
            ph, pw = layer.pool_size
            nodes.append(helper.make_node("MaxPool", [src(layer.input)], [out], name=f"{layer.name}_MaxPool",
                                          kernel_shape=[ph, pw], strides=list(layer.strides)))
            ch, ih, iw = shapes[src(layer.input)]
            shapes[out] = [ch, (ih - ph) // layer.strides[0] + 1, (iw - pw) // layer.strides[1] + 1]
        elif isinstance(layer, keras.layers.Add):
            a, b = (src(t) for t in layer.input)
            nodes.append(helper.make_node("Add", [a, b], [out], name=f"{layer.name}_Add"))
            shapes[out] = shapes[a]
        elif isinstance(layer, keras.layers.ReLU):
            out = relu(layer.name, src(layer.input))
        elif isinstance(layer, keras.layers.Flatten):
            nodes.append(helper.make_node("Flatten", [src(layer.input)], [out], name=f"{layer.name}_Flatten", axis=1))
            shapes[out] = [int(np.prod(shapes[src(layer.input)]))]
            unflattened[out] = shapes[src(layer.input)]
        elif isinstance(layer, keras.layers.Dense):
            k, b = layer.get_weights()  # k: [K, N], rows in Keras' (h, w, c) flatten order
            if src(layer.input) in unflattened:
                ch, fh, fw = unflattened[src(layer.input)]
                # ONNX flattens (c, h, w); Keras flattened (h, w, c).
                order = [(y * fw + x) * ch + cc for cc in range(ch) for y in range(fh) for x in range(fw)]
                k = k[order]
            is_last = layer is model.layers[-1]
            out = "logits" if is_last and layer.activation.__name__ == "linear" else out
            inits += [
                numpy_helper.from_array(np.ascontiguousarray(k.T), f"{layer.name}.weight"),
                numpy_helper.from_array(b, f"{layer.name}.bias"),
            ]
            nodes.append(helper.make_node("Gemm", [src(layer.input), f"{layer.name}.weight", f"{layer.name}.bias"],
                                          [out], name=f"{layer.name}_Gemm", transB=1))
            shapes[out] = [k.shape[1]]
            out = activation(layer, out)
        else:
            raise ValueError(f"{layer.name}: {type(layer).__name__} is not exported")
        names[id(layer.output)] = out
    if names[id(model.output)] != "logits":
        raise ValueError("the model must end in a Dense layer without activation (the logits)")
    graph = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, shapes["logits"][0]])],
        inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name=producer, producer_version="1")
    onnx_model.ir_version = IR_VERSION
    onnx_model = onnx.shape_inference.infer_shapes(onnx_model)
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model
