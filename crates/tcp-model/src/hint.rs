//! Cache hints for drivers that know what they will touch next (see
//! [`Host::prefetch_for`](crate::Host::prefetch_for)).

/// Asks the CPU to start loading every cache line of `*r`, so that a later access finds it
/// cached. A hint: it changes no value and no result, and costs a few instructions. A no-op
/// on targets other than x86-64.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        let base = (r as *const T).cast::<i8>();
        for_each_line_offset(std::mem::size_of::<T>(), |off| {
            // SAFETY: `prefetcht0` only hints the cache: it never faults, whatever the
            // address, and changes no architectural state. The address lies inside `*r`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.wrapping_add(off),
                )
            };
        });
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Calls `f` with offsets into an object of `size` bytes that touch every cache line it
/// overlaps, wherever it starts: one per 64 bytes from its start, and its last byte. Not from
/// its start alone: a 160-byte object 48 bytes into a line overlaps four lines, and offsets 0,
/// 64 and 128 reach only three. A function of the size alone, so no address arithmetic is paid
/// for it at run time; an offset in a line already asked for costs one redundant hint.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn for_each_line_offset(size: usize, mut f: impl FnMut(usize)) {
    let mut off = 0;
    while off < size {
        f(off);
        off += 64;
    }
    if size > 1 {
        f(size - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache lines (64-byte) that the offsets of `line_offsets(size)` reach from `addr`.
    fn lines_reached(addr: usize, size: usize) -> Vec<usize> {
        let mut v = Vec::new();
        for_each_line_offset(size, |o| v.push((addr + o) / 64));
        v.dedup();
        v
    }

    /// The cache lines an object of `size` bytes at `addr` overlaps.
    fn lines_overlapped(addr: usize, size: usize) -> Vec<usize> {
        if size == 0 {
            return vec![];
        }
        (addr / 64..=(addr + size - 1) / 64).collect()
    }

    #[test]
    fn every_line_an_object_overlaps_is_reached() {
        for size in [0, 1, 8, 40, 63, 64, 65, 127, 128, 152, 160, 200, 256] {
            for addr in (4096..4096 + 64).step_by(8) {
                assert_eq!(
                    lines_reached(addr, size),
                    lines_overlapped(addr, size),
                    "size {size} at {addr}"
                );
            }
        }
    }

    #[test]
    fn prefetch_changes_nothing() {
        let v: Vec<[u64; 20]> = (0..4).map(|i| [i; 20]).collect();
        for x in &v {
            prefetch(x);
        }
        prefetch(&());
        assert_eq!(v[3], [3; 20]);
    }
}
