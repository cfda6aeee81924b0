//! Which of the accelerator's datapaths runs a layer.

/// How an accelerator layer's weights run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Dense weight tiles on the systolic array.
    Dense,
    /// N:4 structured-sparse tiles on the array (the N).
    NOf4(u8),
    /// Compressed sparse columns on the unstructured sparse engine (`SPMV`).
    Sparse,
}

impl Engine {
    /// The array engine of a GEMM `nm` field.
    pub fn from_nm(nm: u8) -> Engine {
        if nm == 0 {
            Engine::Dense
        } else {
            Engine::NOf4(nm)
        }
    }

    /// The GEMM's `nm` field: N for N:4 tiles, 0 otherwise.
    pub fn nm(self) -> u8 {
        match self {
            Engine::NOf4(n) => n,
            Engine::Dense | Engine::Sparse => 0,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Engine::Dense => write!(f, "dense"),
            Engine::NOf4(n) => write!(f, "{n}:4"),
            Engine::Sparse => write!(f, "sparse"),
        }
    }
}
