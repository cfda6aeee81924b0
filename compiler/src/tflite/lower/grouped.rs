//! Grouped `CONV_2D` (Keras `Conv2D(groups=g)`, RegNet, ResNeXt): a filter of `[O,
//! kh, kw, C / g]` whose output channel `o` reads only group `o / (O / g)`'s input
//! channels. Its layer is one convolution over all `C` channels whose kernel is
//! block-diagonal: the weights outside a channel's group are its weight zero point,
//! so `(w - w_zero) = 0` adds nothing and the sums are exactly the grouped ones (the
//! ONNX lowering's form for `group` < C). The geometry records the groups: the
//! accelerator runs it per block of output channels over their groups' input
//! channels only (`model::layers::conv_per_block`) where the cost model finds that
//! faster, which it derives from this kernel.

use super::TensorInfo;

/// The filter `w` (`[O, kh, kw, C / groups]`) over all `channels` inputs.
pub(super) fn block_diagonal<'t>(w: &TensorInfo<'t>, channels: usize) -> Result<TensorInfo<'t>, String> {
    let &[m, kh, kw, per_group] = w.shape.as_slice() else {
        return Err(format!("the filter {:?} is not [O, kh, kw, I]", w.shape));
    };
    let groups = channels / per_group.max(1);
    if per_group == 0 || !channels.is_multiple_of(per_group) || !m.is_multiple_of(groups) {
        return Err(format!("{channels} input and {m} output channels do not split into groups of {per_group} inputs"));
    }
    let values = w.values().ok_or(format!("the filter `{}` must be constant", w.name))?;
    let zero = w.zeros.first().copied().unwrap_or(0);
    let (taps, outputs_per_group) = (kh * kw, m / groups);
    let data = (0..m * taps * channels)
        .map(|i| {
            let (o, tap, c) = (i / (taps * channels), i / channels % taps, i % channels);
            if c / per_group == o / outputs_per_group {
                values[(o * taps + tap) * per_group + c % per_group]
            } else {
                zero
            }
        })
        .collect();
    Ok(TensorInfo { shape: vec![m, kh, kw, channels], data: Some(data), ..w.clone() })
}
