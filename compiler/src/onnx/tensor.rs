//! `TensorProto` → [`Tensor`]: every storage form the ONNX IR allows for the element
//! types the compiler reads (typed fields or little-endian `raw_data`; 4-bit types
//! two per byte, low nibble first).

use super::proto::tensor_proto::{DataLocation, DataType};
use super::proto::TensorProto;
use crate::tensor::{ElemType, Tensor, TensorData};

/// Maps an ONNX element type code; `Err` carries the type's name for the message.
pub fn elem_type(code: i32) -> Result<ElemType, String> {
    let dt = DataType::try_from(code).map_err(|_| format!("element type code {code}"))?;
    Ok(match dt {
        DataType::Float => ElemType::F32,
        DataType::Float16 => ElemType::F16,
        DataType::Int4 => ElemType::I4,
        DataType::Uint4 => ElemType::U4,
        DataType::Int8 => ElemType::I8,
        DataType::Uint8 => ElemType::U8,
        DataType::Int16 => ElemType::I16,
        DataType::Int32 => ElemType::I32,
        DataType::Int64 => ElemType::I64,
        other => return Err(other.as_str_name().to_lowercase()),
    })
}

/// Decodes `t`; errors say what is wrong without the tensor's name (the caller adds it).
pub fn decode(t: &TensorProto) -> Result<Tensor, String> {
    if t.data_location == Some(DataLocation::External as i32) {
        return Err(
            "data is stored in an external file, which is not supported (save the model with its data inline)".into()
        );
    }
    if t.segment.is_some() {
        return Err("segmented tensors are not supported".into());
    }
    let dtype = elem_type(t.data_type.unwrap_or(0)).map_err(|name| format!("element type {name} is not supported"))?;
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d} in dims {:?}", t.dims)))
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
    let data = match dtype {
        ElemType::F32 => TensorData::Float(match raw {
            Some(bytes) => fixed_width(bytes, 4, count)?.map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
            None => typed(&t.float_data, count, "float_data")?.to_vec(),
        }),
        // float16: little-endian halves in raw_data, or their bit patterns in int32_data.
        ElemType::F16 => TensorData::Float(match raw {
            Some(bytes) => {
                fixed_width(bytes, 2, count)?.map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()
            }
            None => typed(&t.int32_data, count, "int32_data")?
                .iter()
                .map(|&v| half::f16::from_bits(v as u16).to_f32())
                .collect(),
        }),
        ElemType::I4 | ElemType::U4 => {
            let packed: Vec<u8> = match raw {
                Some(bytes) => bytes.to_vec(),
                None => t.int32_data.iter().map(|&v| v as u8).collect(),
            };
            TensorData::Int(nibbles(&packed, count, dtype == ElemType::I4)?)
        }
        ElemType::I8 | ElemType::U8 | ElemType::I16 | ElemType::I32 => {
            let width = match dtype {
                ElemType::I8 | ElemType::U8 => 1,
                ElemType::I16 => 2,
                _ => 4,
            };
            TensorData::Int(match raw {
                Some(bytes) => fixed_width(bytes, width, count)?.map(|c| int_le(c, dtype)).collect(),
                None => typed(&t.int32_data, count, "int32_data")?.iter().map(|&v| i64::from(v)).collect(),
            })
        }
        ElemType::I64 => TensorData::Int(match raw {
            Some(bytes) => fixed_width(bytes, 8, count)?.map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
            None => typed(&t.int64_data, count, "int64_data")?.to_vec(),
        }),
    };
    if let (TensorData::Int(values), Some((lo, hi))) = (&data, dtype.int_range()) {
        if let Some(v) = values.iter().find(|v| !(lo..=hi).contains(*v)) {
            return Err(format!("value {v} is outside the {dtype} range"));
        }
    }
    Ok(Tensor { dtype, shape, data })
}

fn fixed_width(bytes: &[u8], width: usize, count: usize) -> Result<std::slice::ChunksExact<'_, u8>, String> {
    if bytes.len() != width * count {
        return Err(format!(
            "raw_data holds {} bytes; {count} elements of {width} bytes need {}",
            bytes.len(),
            width * count
        ));
    }
    Ok(bytes.chunks_exact(width))
}

fn typed<'a, T>(values: &'a [T], count: usize, field: &str) -> Result<&'a [T], String> {
    if values.len() != count {
        return Err(format!("{field} holds {} values; the dims need {count}", values.len()));
    }
    Ok(values)
}

fn int_le(chunk: &[u8], dtype: ElemType) -> i64 {
    match dtype {
        ElemType::I8 => i64::from(chunk[0] as i8),
        ElemType::U8 => i64::from(chunk[0]),
        ElemType::I16 => i64::from(i16::from_le_bytes([chunk[0], chunk[1]])),
        _ => i64::from(i32::from_le_bytes(chunk.try_into().unwrap())),
    }
}

fn nibbles(packed: &[u8], count: usize, signed: bool) -> Result<Vec<i64>, String> {
    if packed.len() != count.div_ceil(2) {
        return Err(format!(
            "{} bytes of packed 4-bit data; {count} elements need {}",
            packed.len(),
            count.div_ceil(2)
        ));
    }
    Ok((0..count)
        .map(|i| {
            let nibble = (packed[i / 2] >> (4 * (i % 2))) & 0xf;
            if signed && nibble >= 8 {
                i64::from(nibble) - 16
            } else {
                i64::from(nibble)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(dtype: DataType, dims: &[i64]) -> TensorProto {
        TensorProto { data_type: Some(dtype as i32), dims: dims.to_vec(), ..Default::default() }
    }

    #[test]
    fn decodes_raw_and_typed_storage() {
        let mut t = proto(DataType::Int8, &[2, 2]);
        t.raw_data = Some(vec![0x01, 0xff, 0x80, 0x7f]);
        assert_eq!(decode(&t).unwrap().ints().unwrap(), &[1, -1, -128, 127]);

        let mut t = proto(DataType::Uint8, &[3]);
        t.int32_data = vec![0, 128, 255];
        assert_eq!(decode(&t).unwrap().ints().unwrap(), &[0, 128, 255]);

        let mut t = proto(DataType::Float, &[2]);
        t.raw_data = Some([1.5f32.to_le_bytes(), (-0.25f32).to_le_bytes()].concat());
        assert_eq!(decode(&t).unwrap().floats().unwrap(), &[1.5, -0.25]);

        let mut t = proto(DataType::Int64, &[]);
        t.int64_data = vec![-7];
        assert_eq!(decode(&t).unwrap().scalar_int(), Some(-7));
    }

    #[test]
    fn four_bit_values_are_two_per_byte_low_nibble_first() {
        // int4 [-8, 7, -1] packed: 0x78 (7 << 4 | 8), 0x0f.
        let mut t = proto(DataType::Int4, &[3]);
        t.int32_data = vec![0x78, 0x0f];
        assert_eq!(decode(&t).unwrap().ints().unwrap(), &[-8, 7, -1]);
        let mut t = proto(DataType::Uint4, &[2]);
        t.raw_data = Some(vec![0xf1]);
        assert_eq!(decode(&t).unwrap().ints().unwrap(), &[1, 15]);
    }

    #[test]
    fn malformed_tensors_say_what_is_wrong() {
        let mut t = proto(DataType::Int8, &[2, 3]);
        t.raw_data = Some(vec![0; 5]);
        assert_eq!(decode(&t).unwrap_err(), "raw_data holds 5 bytes; 6 elements of 1 bytes need 6");
        let mut t = proto(DataType::Int8, &[2]);
        t.int32_data = vec![1, 300];
        assert_eq!(decode(&t).unwrap_err(), "value 300 is outside the int8 range");
        let t = proto(DataType::Double, &[1]);
        assert_eq!(decode(&t).unwrap_err(), "element type double is not supported");
        let mut t = proto(DataType::Float16, &[2]);
        t.int32_data = vec![0x3c00, 0xc000]; // 1.0, -2.0
        assert_eq!(decode(&t).unwrap().floats().unwrap(), &[1.0, -2.0]);
        let mut t = proto(DataType::Float, &[1]);
        t.data_location = Some(DataLocation::External as i32);
        assert!(decode(&t).unwrap_err().contains("external file"));
    }
}
