//! How a value's elements are ordered in DDR, and the conversions the runtime makes
//! when it moves a value between the host (logical order) and DDR.

use serde::{Deserialize, Serialize};

/// The order of a value's elements in its DDR slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// The logical (row-major) order.
    Plain,
    /// A logical NCHW tensor `[n, c, h, w]`, or its flattening `[n, c * h * w]`,
    /// stored per sample in (h, w, c) order: what the accelerator's convolutions read
    /// and write, so that ONNX models need no transposes between layers.
    ChannelsLast { c: usize, h: usize, w: usize },
}

impl Layout {
    /// Storage position of logical element `i` within one sample.
    fn storage_index(&self, i: usize) -> usize {
        match *self {
            Layout::Plain => i,
            Layout::ChannelsLast { c, h, w } => {
                let (ch, p) = (i / (h * w), i % (h * w));
                p * c + ch
            }
        }
    }

    /// Elements per sample this layout permutes within (1 for `Plain`).
    fn sample(&self) -> usize {
        match *self {
            Layout::Plain => 1,
            Layout::ChannelsLast { c, h, w } => c * h * w,
        }
    }

    /// `logical` values in this layout's storage order.
    pub fn to_storage<T: Copy + Default>(&self, logical: &[T]) -> Vec<T> {
        let per = self.sample();
        let mut out = vec![T::default(); logical.len()];
        for (s, chunk) in logical.chunks(per).enumerate() {
            for (i, &v) in chunk.iter().enumerate() {
                out[s * per + self.storage_index(i)] = v;
            }
        }
        out
    }

    /// Stored values back in logical order.
    pub fn to_logical<T: Copy + Default>(&self, stored: &[T]) -> Vec<T> {
        let per = self.sample();
        let mut out = vec![T::default(); stored.len()];
        for (s, chunk) in out.chunks_mut(per).enumerate() {
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = stored[s * per + self.storage_index(i)];
            }
        }
        out
    }

    /// For a GEMM whose `k` input features are this layout's sample: the logical
    /// feature each stored position holds (the weight rows to multiply it with).
    pub fn feature_order(&self, k: usize) -> Option<Vec<usize>> {
        match *self {
            Layout::Plain => Some((0..k).collect()),
            Layout::ChannelsLast { .. } if self.sample() == k => Some(self.to_storage(&(0..k).collect::<Vec<_>>())),
            Layout::ChannelsLast { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_last_stores_nchw_as_nhwc_and_back() {
        // Two samples of [c=2, h=1, w=3]: channel 0 is 0,1,2 and channel 1 is 10,11,12.
        let logical: Vec<i64> = vec![0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112];
        let layout = Layout::ChannelsLast { c: 2, h: 1, w: 3 };
        let stored = layout.to_storage(&logical);
        assert_eq!(stored, vec![0, 10, 1, 11, 2, 12, 100, 110, 101, 111, 102, 112]);
        assert_eq!(layout.to_logical(&stored), logical);
        // Stored position 1 holds logical feature 3 (channel 1, pixel 0).
        assert_eq!(layout.feature_order(6).unwrap(), vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(layout.feature_order(5), None);
    }
}
