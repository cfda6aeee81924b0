//! Reading an `.onnx` file into a [`Graph`].

use super::proto::{attribute_proto::AttributeType, type_proto, ModelProto, NodeProto, ValueInfoProto};
use super::tensor::{decode, elem_type};
use crate::graph::{Attr, Graph, Node, Value};
use prost::Message;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Why a model could not be imported; always names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}", file.display())]
pub struct ImportError {
    pub file: PathBuf,
    pub what: String,
}

/// Reads and imports `path`.
pub fn import_file(path: &Path) -> Result<Graph, ImportError> {
    let fail = |what: String| ImportError { file: path.to_path_buf(), what };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    import_bytes(&bytes).map_err(fail)
}

/// Imports a serialized `ModelProto`.
pub fn import_bytes(bytes: &[u8]) -> Result<Graph, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model (protobuf: {e})"))?;
    let graph = model.graph.ok_or("the model has no graph")?;
    let mut constants = BTreeMap::new();
    for t in &graph.initializer {
        let name = t.name.clone().unwrap_or_default();
        let tensor = decode(t).map_err(|e| format!("initializer `{name}`: {e}"))?;
        constants.insert(name, tensor);
    }
    if let Some(s) = graph.sparse_initializer.first() {
        let name = s.values.as_ref().and_then(|v| v.name.clone()).unwrap_or_default();
        return Err(format!("sparse initializer `{name}`: sparse initializers are not supported"));
    }
    let inputs = graph
        .input
        .iter()
        .filter(|v| !constants.contains_key(v.name()))
        .map(|v| value(v).map_err(|e| format!("graph input `{}`: {e}", v.name())))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = graph
        .output
        .iter()
        .map(|v| value(v).map_err(|e| format!("graph output `{}`: {e}", v.name())))
        .collect::<Result<Vec<_>, _>>()?;

    let mut defined: HashSet<String> = inputs.iter().map(|v| v.name.clone()).collect();
    defined.extend(constants.keys().cloned());
    let mut nodes = Vec::with_capacity(graph.node.len());
    for (index, proto) in graph.node.iter().enumerate() {
        let node = node(proto, index)?;
        let context = || format!("node `{}` ({})", node.name, node.qualified_op());
        if let Some(missing) = node.inputs.iter().find(|i| !i.is_empty() && !defined.contains(*i)) {
            return Err(format!(
                "{}: input `{missing}` is not defined before it (graph not in topological order?)",
                context()
            ));
        }
        if node.op == "Constant" && node.domain.is_empty() {
            let tensor = match node.attrs.get("value") {
                Some(Attr::Tensor(t)) => t.clone(),
                _ => return Err(format!("{}: only the `value` (tensor) form of Constant is supported", context())),
            };
            let out = node.outputs.first().ok_or_else(|| format!("{}: no output", context()))?;
            constants.insert(out.clone(), tensor);
        } else {
            nodes.push(node.clone());
        }
        defined.extend(node.outputs.iter().cloned());
    }
    if let Some(missing) = outputs.iter().find(|o| !defined.contains(&o.name)) {
        return Err(format!("graph output `{}` is not produced by any node", missing.name));
    }
    Ok(Graph { name: graph.name.unwrap_or_default(), inputs, outputs, constants, nodes })
}

fn value(v: &ValueInfoProto) -> Result<Value, String> {
    let tensor_type = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => Some(t),
        None => None,
        Some(_) => return Err("only tensor values are supported (not sequences, maps or optionals)".into()),
    };
    let dtype = tensor_type.and_then(|t| t.elem_type).and_then(|code| elem_type(code).ok());
    let shape = tensor_type
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(super::proto::tensor_shape_proto::dimension::Value::DimValue(n)) => usize::try_from(n).ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Value { name: v.name().to_string(), dtype, shape })
}

fn node(proto: &NodeProto, index: usize) -> Result<Node, String> {
    let op = proto.op_type().to_string();
    let name = match proto.name() {
        "" => format!("{op}#{index}"),
        name => name.to_string(),
    };
    let mut attrs = BTreeMap::new();
    for a in &proto.attribute {
        let kind = AttributeType::try_from(a.r#type.unwrap_or(0)).unwrap_or(AttributeType::Undefined);
        let attr = match kind {
            AttributeType::Int => Attr::Int(a.i()),
            AttributeType::Float => Attr::Float(a.f()),
            AttributeType::Ints => Attr::Ints(a.ints.clone()),
            AttributeType::Floats => Attr::Floats(a.floats.clone()),
            AttributeType::String => Attr::Str(String::from_utf8_lossy(a.s()).into_owned()),
            AttributeType::Tensor => {
                let t =
                    a.t.as_ref()
                        .ok_or_else(|| format!("node `{name}` ({op}): attribute `{}` has no tensor", a.name()))?;
                Attr::Tensor(decode(t).map_err(|e| format!("node `{name}` ({op}): attribute `{}`: {e}", a.name()))?)
            }
            _ => Attr::Other,
        };
        attrs.insert(a.name().to_string(), attr);
    }
    Ok(Node {
        name,
        op,
        domain: proto.domain().to_string(),
        inputs: proto.input.clone(),
        outputs: proto.output.clone(),
        attrs,
    })
}

/// Reads one serialized `TensorProto` (the `.pb` files of ONNX test cases).
pub fn read_tensor_file(path: &Path) -> Result<crate::tensor::Tensor, ImportError> {
    let fail = |what: String| ImportError { file: path.to_path_buf(), what };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let proto =
        super::proto::TensorProto::decode(bytes.as_slice()).map_err(|e| fail(format!("not a TensorProto ({e})")))?;
    decode(&proto).map_err(fail)
}
