//! Host fallback: operators a model needs that the accelerator does not run,
//! computed on the CPU with the reference runtime's arithmetic.

pub mod ops;
pub mod quant;
pub mod tflite;
