//! Lays out a program's DDR image (tensors at 64-byte aligned offsets, then the
//! instructions) and wraps it as a program bundle.

use tessera_isa::bundle::{Bundle, BundleHeader, DType, Role, TensorSlot};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::Program;

/// DMA bursts and cache lines both like 64-byte alignment.
const ALIGN: usize = 64;

/// A DDR image under construction, with a bump allocator.
#[derive(Debug, Default)]
pub struct ImageBuilder {
    /// DDR offset of `image[0]`.
    base: usize,
    image: Vec<u8>,
    tensors: Vec<TensorSlot>,
}

impl ImageBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// An image whose first byte lies at DDR offset `base` (64-byte aligned), for
    /// constants placed above an activation arena.
    pub fn at(base: usize) -> Self {
        debug_assert!(base.is_multiple_of(ALIGN), "the image starts aligned");
        ImageBuilder { base, ..Self::default() }
    }

    /// DDR offset of the image's first byte.
    pub fn base(&self) -> usize {
        self.base
    }

    /// DDR offset just past the image's last byte.
    pub fn end(&self) -> usize {
        self.base + self.image.len()
    }

    /// The image's bytes (from [`ImageBuilder::base`]).
    pub fn into_bytes(self) -> Vec<u8> {
        self.image
    }

    /// Appends constant data (weights, parameters) and returns its DDR offset.
    pub fn place(&mut self, data: &[u8]) -> u32 {
        let offset = self.end().next_multiple_of(ALIGN);
        self.image.resize(offset - self.base, 0);
        self.image.extend_from_slice(data);
        offset as u32
    }

    /// Appends a named tensor the host writes (`Role::Input`, with its initial
    /// value `data`) or reads (`Role::Output`, `data` all zero) and returns its offset.
    pub fn tensor(&mut self, name: &str, role: Role, dtype: DType, shape: &[usize], data: &[u8]) -> u32 {
        debug_assert_eq!(dtype.bytes(shape.iter().product()), data.len(), "tensor `{name}` size");
        let offset = self.place(data);
        self.tensors.push(TensorSlot { name: name.into(), role, dtype, shape: shape.to_vec(), offset: offset.into() });
        offset
    }

    /// Reserves a zeroed output tensor and returns its offset.
    pub fn output(&mut self, name: &str, dtype: DType, shape: &[usize]) -> u32 {
        let zeros = vec![0; dtype.bytes(shape.iter().product())];
        self.tensor(name, Role::Output, dtype, shape, &zeros)
    }

    /// Appends the program and returns the bundle.
    pub fn finish(mut self, cfg: &AccelConfig, program: &Program, description: impl Into<String>) -> Bundle {
        debug_assert_eq!(self.base, 0, "a bundle image starts at DRAM_BASE");
        let program_offset = self.place(&program.encode());
        let dram_bytes = self.image.len().next_multiple_of(ALIGN) as u64;
        Bundle {
            header: BundleHeader {
                config: cfg.clone(),
                fingerprint: cfg.fingerprint(),
                program_offset: program_offset.into(),
                program_len: program.len() as u32,
                dram_bytes,
                tensors: self.tensors,
                description: description.into(),
            },
            image: self.image,
        }
    }
}
