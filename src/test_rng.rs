//! A small deterministic random generator (xorshift64) for the property
//! tests: the same seed gives the same cases on every run.

/// xorshift64 (Marsaglia, 2003).
pub struct XorShift(u64);

impl XorShift {
    /// A generator starting from `seed` (not zero).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (not zero).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
