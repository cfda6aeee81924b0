//! The activation arena: DDR space for the values a model's accelerator segments
//! read and write, assigned by liveness so that values alive at different times
//! share bytes.
//!
//! Each request is a byte size and a closed interval of operation indices (from the
//! operation that defines the value to the last one that reads it). Requests are
//! placed in order of their first operation at the lowest 64-byte aligned offset
//! that no overlapping-in-time request occupies (first fit), so an operation's
//! input and output never share bytes.

/// DMA bursts and cache lines both like 64-byte alignment.
pub const ALIGN: u64 = 64;

/// One value to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub bytes: u64,
    /// First and last operation (inclusive) during which the value must keep its bytes.
    pub live: (i64, i64),
}

/// Offsets for `requests` (in the same order) and the arena's size.
pub fn allocate(requests: &[Request]) -> (Vec<u64>, u64) {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| (requests[i].live.0, std::cmp::Reverse(requests[i].bytes)));
    let mut offsets = vec![0; requests.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut size = 0;
    for i in order {
        let r = requests[i];
        let bytes = r.bytes.next_multiple_of(ALIGN);
        // Bytes taken, during r's lifetime, by values placed before it.
        let mut busy: Vec<(u64, u64)> = placed
            .iter()
            .filter(|&&j| overlaps(requests[j].live, r.live))
            .map(|&j| (offsets[j], offsets[j] + requests[j].bytes.next_multiple_of(ALIGN)))
            .collect();
        busy.sort_unstable();
        let mut at = 0;
        for (start, end) in busy {
            if at + bytes <= start {
                break;
            }
            at = at.max(end);
        }
        offsets[i] = at;
        size = size.max(at + bytes);
        placed.push(i);
    }
    (offsets, size)
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_alive_at_different_times_share_bytes() {
        // A chain x0 -> x1 -> x2 -> x3: neighbours overlap at the operation between
        // them, so two buffers alternate.
        let chain: Vec<Request> = (0..4).map(|i| Request { bytes: 100, live: (i, i + 1) }).collect();
        let (offsets, size) = allocate(&chain);
        assert_eq!(offsets, vec![0, 128, 0, 128]);
        assert_eq!(size, 256);
    }

    #[test]
    fn a_long_lived_value_keeps_its_bytes() {
        // A residual: x0 is read again at operation 3, so x1 and x2 go beside it.
        let requests = [
            Request { bytes: 64, live: (0, 3) },
            Request { bytes: 64, live: (1, 2) },
            Request { bytes: 64, live: (2, 3) },
            Request { bytes: 200, live: (4, 5) },
        ];
        let (offsets, size) = allocate(&requests);
        assert_eq!(offsets, vec![0, 64, 128, 0]);
        assert_eq!(size, 256);
        for (i, a) in requests.iter().enumerate() {
            for (j, b) in requests.iter().enumerate().skip(i + 1) {
                if overlaps(a.live, b.live) {
                    let (ea, eb) = (offsets[i] + a.bytes, offsets[j] + b.bytes);
                    assert!(ea <= offsets[j] || eb <= offsets[i], "requests {i} and {j} overlap in time and space");
                }
            }
        }
    }
}
