//! The imported model as a dataflow graph: named values, constant tensors and
//! nodes in topological order, as the file stated them. Importers produce it; the
//! lowering passes read it.

use crate::tensor::{ElemType, Tensor};
use std::collections::BTreeMap;

/// A graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    /// `None` when the file does not say (or uses a type the compiler does not know).
    pub dtype: Option<ElemType>,
    /// Dimensions; `None` for a symbolic or missing one.
    pub shape: Vec<Option<usize>>,
}

/// A node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Str(String),
    Tensor(Tensor),
    /// An attribute kind the compiler does not read (graphs, sparse tensors, ...).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name, or `<op>#<index>` when the file leaves it empty.
    pub name: String,
    pub op: String,
    /// Operator domain: empty for the standard `ai.onnx` set.
    pub domain: String,
    /// Input value names; an empty string is an omitted optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: BTreeMap<String, Attr>,
}

impl Node {
    /// `op` qualified with a non-standard domain, as reports name it.
    pub fn qualified_op(&self) -> String {
        if self.domain.is_empty() || self.domain == "ai.onnx" {
            self.op.clone()
        } else {
            format!("{}.{}", self.domain, self.op)
        }
    }

    pub fn attr_int(&self, name: &str) -> Option<i64> {
        match self.attrs.get(name) {
            Some(Attr::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn attr_ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }

    pub fn attr_float(&self, name: &str) -> Option<f32> {
        match self.attrs.get(name) {
            Some(Attr::Float(v)) => Some(*v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub name: String,
    /// Inputs the caller supplies (initializers are not listed here).
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
    /// Initializers and `Constant` nodes' values, by value name.
    pub constants: BTreeMap<String, Tensor>,
    pub nodes: Vec<Node>,
}

impl Graph {
    pub fn constant(&self, name: &str) -> Option<&Tensor> {
        self.constants.get(name)
    }

    /// The node that produces `value`, if any.
    pub fn producer(&self, value: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.outputs.iter().any(|o| o == value))
    }

    /// The nodes that read `value`.
    pub fn consumers(&self, value: &str) -> Vec<&Node> {
        self.nodes.iter().filter(|n| n.inputs.iter().any(|i| i == value)).collect()
    }
}
