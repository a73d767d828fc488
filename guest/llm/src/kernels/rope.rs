//! Rotary position embedding (llama.cpp's NORM mode).

/// Rotates every head of `x` (`x.len() / head_dim` heads of `head_dim` values) in place for
/// position `pos`: the adjacent pairs `(x[2i], x[2i+1])` of each head by `θ_i = pos ·
/// base^(−2i/head_dim)`, computed as the [module docs](crate::kernels) say.
///
/// Preconditions: `head_dim` is even and non-zero, `x.len() % head_dim == 0`.
pub fn rope(x: &mut [f32], head_dim: usize, pos: u32, base: f32) {
    assert!(
        head_dim != 0 && head_dim.is_multiple_of(2),
        "rope: head_dim must be even"
    );
    assert!(
        x.len().is_multiple_of(head_dim),
        "rope: length is not a multiple of head_dim"
    );
    let scale = libm::powf(base, -2.0 / head_dim as f32);
    let mut theta = pos as f32;
    for i in 0..head_dim / 2 {
        let (s, c) = (libm::sinf(theta), libm::cosf(theta));
        for head in x.chunks_exact_mut(head_dim) {
            let (x0, x1) = (head[2 * i], head[2 * i + 1]);
            head[2 * i] = x0 * c - x1 * s;
            head[2 * i + 1] = x0 * s + x1 * c;
        }
        theta *= scale;
    }
}
