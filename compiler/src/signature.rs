//! What a layer's lowered program and its predicted cycles depend on, as a key:
//! shapes, types, engine and the presence (not the values) of zero points and
//! per-column parameters. Layers that agree on it (ResNet's repeated bottlenecks,
//! MobileNet's repeated inverted residuals) lower to programs of the same timing, so
//! the compiler's searches (engine, im2col form, gather, weight residency) weigh
//! each such layer once instead of once per layer — what keeps ImageNet-scale models
//! compiling in a second or two.

use crate::program::{GemmLayer, LayerOutput};
use std::collections::HashMap;
use std::sync::Mutex;

/// The timing-relevant description of `layer` (its weight and bias values left out).
pub fn layer_key(layer: &GemmLayer) -> String {
    let output = match &layer.output {
        LayerOutput::Raw32 => "raw32".to_string(),
        LayerOutput::Requant { params, mode, out, .. } => format!("requant {} {mode:?} {}", params.len(), out.dtype),
    };
    format!(
        "{}x{}x{} {:?}/{:?} zeros {}{} {} {output}",
        layer.batches,
        layer.k,
        layer.n,
        layer.a_type,
        layer.w_type,
        layer.a_zero != 0,
        layer.w_zero != 0,
        layer.w_zero_columns.is_some()
    )
}

/// Values computed once per key (shared by threads: two that miss the same key at
/// once both compute it, with the same result).
#[derive(Debug)]
pub struct Memo<V: Clone> {
    values: Mutex<HashMap<String, V>>,
}

impl<V: Clone> Default for Memo<V> {
    fn default() -> Self {
        Memo { values: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> Memo<V> {
    /// The value of `key`, computed by `make` the first time.
    pub fn get_or(&self, key: String, make: impl FnOnce() -> V) -> V {
        if let Some(v) = self.values.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return v.clone();
        }
        let v = make();
        self.values.lock().unwrap_or_else(|e| e.into_inner()).insert(key, v.clone());
        v
    }
}
