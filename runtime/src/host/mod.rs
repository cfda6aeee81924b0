//! Host operators: what a model needs that the accelerator does not run, computed on
//! the CPU with the reference runtimes' arithmetic.

pub mod binary;
pub mod movement;
pub mod ops;
pub mod quant;
pub mod step;
pub mod tflite;
