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
        let mut off = 0;
        while off < std::mem::size_of::<T>() {
            // SAFETY: `prefetcht0` only hints the cache: it never faults, whatever the
            // address, and changes no architectural state. The address lies inside `*r`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.wrapping_add(off),
                )
            };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}
