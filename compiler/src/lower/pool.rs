//! ONNX pooling nodes: `MaxPool`, `AveragePool` and `com.microsoft.QLinearAveragePool`
//! as 2-D windows, with the attributes the reference implements (`ceil_mode`,
//! `count_include_pad`, dilations) and clear refusals for the rest.

use super::layers::window_geometry;
use super::params::node_error;
use crate::graph::{Attr, Node};
use crate::program::HostOp;
use crate::shape::Window;

/// The window of a 2-D pooling node.
fn window(node: &Node) -> Result<Window, String> {
    if matches!(node.attrs.get("auto_pad"), Some(Attr::Str(p)) if p != "NOTSET" && p != "VALID") {
        return Err(node_error(node, "auto_pad SAME_UPPER/SAME_LOWER is not supported; give explicit pads"));
    }
    let kernel = match node.attr_ints("kernel_shape") {
        Some(&[h, w]) if h > 0 && w > 0 => [h as usize, w as usize],
        other => return Err(node_error(node, format!("kernel_shape {other:?}: 2-D pooling is supported"))),
    };
    let ceil_mode = match node.attr_int("ceil_mode").unwrap_or(0) {
        0 => false,
        1 => true,
        other => return Err(node_error(node, format!("ceil_mode {other} must be 0 or 1"))),
    };
    Ok(Window { ceil_mode, ..window_geometry(node, 0, kernel)?.window })
}

/// `MaxPool` (its `Indices` output and column-major `storage_order` refused).
pub fn max_pool(node: &Node) -> Result<HostOp, String> {
    if node.attr_int("storage_order").unwrap_or(0) != 0 {
        return Err(node_error(node, "storage_order 1 (column-major indices) is not supported"));
    }
    if node.outputs.len() > 1 && !node.outputs[1].is_empty() {
        return Err(node_error(node, "the Indices output is not supported"));
    }
    Ok(HostOp::MaxPool(window(node)?))
}

/// `AveragePool`, or `com.microsoft.QLinearAveragePool` (NHWC when `channels_last`).
pub fn average_pool(node: &Node) -> Result<HostOp, String> {
    let count_include_pad = match node.attr_int("count_include_pad").unwrap_or(0) {
        0 => false,
        1 => true,
        other => return Err(node_error(node, format!("count_include_pad {other} must be 0 or 1"))),
    };
    let channels_last = node.attr_int("channels_last").unwrap_or(0) != 0;
    Ok(HostOp::AvgPoolFloat { window: Window { channels_last, ..window(node)? }, count_include_pad })
}
