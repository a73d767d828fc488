//! Preparing a user's digit as the MNIST digits were prepared.
//!
//! LeCun et al. size-normalized each digit's bounding box to fit a 20×20 box, preserving its
//! aspect ratio, with anti-aliasing, and placed it in a 28×28 frame so that its centre of mass is
//! at the frame's centre. [`mnist`] does the same, deterministically, in integer arithmetic:
//!
//! 1. **Inversion.** The background level is the median of the image's border pixels. If it is
//!    light (> 127), the image is a dark digit on a light background: every pixel `p` becomes
//!    `255 - p`, and [`Prepared::inverted`] says so.
//! 2. **Levelling.** With `b` the (inverted) border median (≤ 127), each pixel becomes
//!    `max(p - b, 0) * 255 / (255 - b)` (rounded down), so the background is black.
//! 3. **Crop.** Ink is a levelled pixel above [`INK`]; the image is cropped to the ink's bounding
//!    box. No ink is an error.
//! 4. **Scale.** The box is scaled so that its longer side is [`BOX`] pixels and its shorter side
//!    `round(short * 20 / long)` (at least 1), by area averaging: each output pixel is the mean of
//!    the input area it covers, every input pixel weighted by its exact overlap (integer weights,
//!    rounded to nearest). A box that already is 20 pixels long is copied unchanged.
//! 5. **Centre.** The scaled box is placed in a 28×28 black frame so that its intensity-weighted
//!    centre of mass, in pixel-index coordinates, is at (14, 14): the offset is
//!    `round(14 - com)` on each axis, clamped so the box stays in the frame.
//!
//! An image that already is an MNIST digit (20-pixel box, centred) comes out unchanged apart
//! from ink at or below [`INK`] outside its bounding box.

use anyhow::{Result, ensure};

use super::{Gray, SIDE};

/// The side of the box the digit is scaled into.
pub(crate) const BOX: usize = 20;

/// A levelled pixel above this value is ink (for the bounding box).
pub(crate) const INK: u8 = 32;

/// A digit prepared for the MNIST models, and what was done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// The 784 gray bytes, row by row, white digit on black.
    pub(crate) pixels: Vec<u8>,
    /// Whether the image was a dark digit on a light background and was inverted.
    pub(crate) inverted: bool,
    /// The ink's bounding box in the image: width and height.
    pub(crate) ink: (usize, usize),
    /// The box's size after scaling: width and height.
    pub(crate) scaled: (usize, usize),
}

impl Prepared {
    /// One line saying what the preparation did (the inversion is said separately).
    pub(crate) fn describe(&self) -> String {
        format!(
            "prepared as MNIST digits were: the {}×{} ink box scaled to {}×{}, its centre of mass \
             moved to (14, 14)",
            self.ink.0, self.ink.1, self.scaled.0, self.scaled.1
        )
    }
}

/// Prepares `image` as an MNIST digit (see the module documentation); refuses an image with no
/// ink.
pub(crate) fn mnist(image: &Gray) -> Result<Prepared> {
    let Gray {
        width,
        height,
        ref pixels,
    } = *image;
    ensure!(
        width >= 1 && height >= 1 && pixels.len() == width * height,
        "the image has no pixels"
    );
    // 1. Inversion, by the border's median.
    let mut border: Vec<u8> = (0..width)
        .flat_map(|x| [pixels[x], pixels[(height - 1) * width + x]])
        .chain((0..height).flat_map(|y| [pixels[y * width], pixels[y * width + width - 1]]))
        .collect();
    border.sort_unstable();
    let median = border[border.len() / 2];
    let inverted = median > 127;
    let background = if inverted { 255 - median } else { median };
    // 2. Levelling.
    let level = |p: u8| -> u8 {
        let p = if inverted { 255 - p } else { p };
        let above = u32::from(p.saturating_sub(background));
        (above * 255 / (255 - u32::from(background))) as u8
    };
    let levelled: Vec<u8> = pixels.iter().map(|&p| level(p)).collect();
    // 3. The ink's bounding box.
    let (mut left, mut top, mut right, mut bottom) = (width, height, 0, 0);
    for (i, _) in levelled.iter().enumerate().filter(|&(_, &p)| p > INK) {
        let (x, y) = (i % width, i / width);
        left = left.min(x);
        right = right.max(x);
        top = top.min(y);
        bottom = bottom.max(y);
    }
    ensure!(
        left <= right && top <= bottom,
        "the image is blank: no pixel stands out from its background (no ink to classify)"
    );
    let (w, h) = (right - left + 1, bottom - top + 1);
    // 4. Scale the longer side to BOX.
    let long = w.max(h);
    let (sw, sh) = (
        ((w * BOX * 2 + long) / (2 * long)).max(1),
        ((h * BOX * 2 + long) / (2 * long)).max(1),
    );
    let crop = |x: usize, y: usize| levelled[(top + y) * width + left + x];
    let scaled = area_average(w, h, sw, sh, crop);
    // 5. Centre of mass to (14, 14).
    let mut mass = 0u64;
    let (mut mx, mut my) = (0u64, 0u64);
    for y in 0..sh {
        for x in 0..sw {
            let p = u64::from(scaled[y * sw + x]);
            mass += p;
            mx += p * x as u64;
            my += p * y as u64;
        }
    }
    let centre = SIDE as i64 / 2;
    let offset = |moment: u64, size: usize| -> usize {
        let (mass, moment) = (mass.max(1) as i64, moment as i64);
        // round(centre - moment / mass) = floor((2 (centre mass - moment) + mass) / (2 mass))
        let at = (2 * (centre * mass - moment) + mass).div_euclid(2 * mass);
        at.clamp(0, (SIDE - size) as i64) as usize
    };
    let (ox, oy) = (offset(mx, sw), offset(my, sh));
    let mut out = vec![0u8; SIDE * SIDE];
    for y in 0..sh {
        out[(oy + y) * SIDE + ox..(oy + y) * SIDE + ox + sw]
            .copy_from_slice(&scaled[y * sw..(y + 1) * sw]);
    }
    Ok(Prepared {
        pixels: out,
        inverted,
        ink: (w, h),
        scaled: (sw, sh),
    })
}

/// Scales a `w × h` image (`pixel(x, y)`) to `sw × sh` by area averaging.
///
/// In units where an input pixel is `sw` wide and an output pixel `w` wide (likewise `sh`, `h`
/// vertically), output pixel `x` covers `[x w, (x + 1) w)` and input pixel `i` covers
/// `[i sw, (i + 1) sw)`; the weight of input pixel `(i, j)` in output pixel `(x, y)` is the
/// product of the two overlaps, and the weights of an output pixel sum to `w h`. The result is
/// the weighted sum divided by `w h`, rounded to nearest, all in `u64`.
fn area_average(
    w: usize,
    h: usize,
    sw: usize,
    sh: usize,
    pixel: impl Fn(usize, usize) -> u8,
) -> Vec<u8> {
    /// The input pixels overlapping output pixel `x` and their weights.
    fn overlaps(x: usize, w: usize, sw: usize) -> impl Iterator<Item = (usize, u64)> {
        let (start, end) = (x * w, (x + 1) * w);
        (start / sw..end.div_ceil(sw)).map(move |i| {
            let overlap = end.min((i + 1) * sw) - start.max(i * sw);
            (i, overlap as u64)
        })
    }
    let total = (w * h) as u64;
    let mut out = Vec::with_capacity(sw * sh);
    for y in 0..sh {
        for x in 0..sw {
            let mut sum = 0u64;
            for (j, wy) in overlaps(y, h, sh) {
                for (i, wx) in overlaps(x, w, sw) {
                    sum += u64::from(pixel(i, j)) * wx * wy;
                }
            }
            out.push(((sum + total / 2) / total) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The centre of mass of a 28×28 image, in pixel-index coordinates.
    fn centre_of_mass(pixels: &[u8]) -> (f64, f64) {
        let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
        for (i, &p) in pixels.iter().enumerate() {
            let p = f64::from(p);
            mass += p;
            mx += p * (i % SIDE) as f64;
            my += p * (i / SIDE) as f64;
        }
        (mx / mass, my / mass)
    }

    /// The bounding box (width, height) of the pixels above [`INK`] in a 28×28 image.
    fn ink_box(pixels: &[u8]) -> (usize, usize) {
        let ink: Vec<(usize, usize)> = (0..SIDE * SIDE)
            .filter(|&i| pixels[i] > INK)
            .map(|i| (i % SIDE, i / SIDE))
            .collect();
        let width = ink.iter().map(|p| p.0).max().unwrap() - ink.iter().map(|p| p.0).min().unwrap();
        let height =
            ink.iter().map(|p| p.1).max().unwrap() - ink.iter().map(|p| p.1).min().unwrap();
        (width + 1, height + 1)
    }

    /// A `width × height` black image with the ink box (pixels > 0) of MNIST digit `index`,
    /// each pixel drawn as a `scale × scale` block, in the top-left corner.
    pub(crate) fn in_corner(index: usize, width: usize, height: usize, scale: usize) -> Gray {
        let (_, digit) = mnist::digit(index).unwrap();
        let ink = |i: &usize| digit[*i] > 0;
        let left = (0..784).filter(ink).map(|i| i % SIDE).min().unwrap();
        let top = (0..784).filter(ink).map(|i| i / SIDE).min().unwrap();
        let mut pixels = vec![0u8; width * height];
        for y in 0..height {
            for x in 0..width {
                let (col, row) = (left + x / scale, top + y / scale);
                if col < SIDE && row < SIDE {
                    pixels[y * width + x] = digit[row * SIDE + col];
                }
            }
        }
        Gray {
            width,
            height,
            pixels,
        }
    }

    /// A white `width × height` frame with a dark filled rectangle (a crude "1"), drawn in the
    /// top-left corner.
    fn bar(width: usize, height: usize, inverted: bool) -> Gray {
        let (ink, paper) = if inverted { (10, 240) } else { (250, 0) };
        let mut pixels = vec![paper; width * height];
        for y in 1..1 + height / 3 {
            for x in 1..1 + width / 10 {
                pixels[y * width + x] = ink;
            }
        }
        Gray {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn a_digit_in_the_corner_is_scaled_to_20_and_centred_by_mass() {
        for index in 0..64 {
            for (width, height, scale) in [(28, 28, 1), (100, 60, 1), (200, 90, 2)] {
                let image = in_corner(index, width, height, scale);
                let prepared = mnist(&image).unwrap();
                assert!(!prepared.inverted);
                let (cx, cy) = centre_of_mass(&prepared.pixels);
                assert!(
                    (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
                    "digit {index} in {width}×{height}: centre of mass ({cx}, {cy})"
                );
                let (w, h) = ink_box(&prepared.pixels);
                assert_eq!(w.max(h), BOX, "digit {index} in {width}×{height}");
                assert_eq!(prepared.scaled.0.max(prepared.scaled.1), BOX);
                // Drawn twice as large, the digit scales back to itself exactly.
                let (_, digit) = mnist::digit(index).unwrap();
                let mismatched = digit
                    .iter()
                    .zip(&prepared.pixels)
                    .filter(|(a, b)| a != b && **a > INK)
                    .count();
                assert_eq!(mismatched, 0, "digit {index} in {width}×{height} ×{scale}");
            }
        }
    }

    #[test]
    fn a_large_drawing_high_in_a_frame_is_scaled_down_to_20() {
        let prepared = mnist(&bar(400, 300, false)).unwrap();
        assert!(!prepared.inverted);
        assert_eq!(prepared.ink, (40, 100));
        assert_eq!(prepared.scaled, (8, 20));
        assert_eq!(ink_box(&prepared.pixels), (8, 20));
        let (cx, cy) = centre_of_mass(&prepared.pixels);
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "({cx}, {cy})"
        );
        // A uniform bar stays uniform after area averaging.
        assert_eq!(
            prepared.pixels.iter().filter(|&&p| p == 250).count(),
            8 * 20
        );
    }

    #[test]
    fn mnist_digits_come_out_unchanged() {
        let mut changed = 0;
        for index in 0..64 {
            let (_, digit) = mnist::digit(index).unwrap();
            let image = Gray {
                width: SIDE,
                height: SIDE,
                pixels: digit.to_vec(),
            };
            let prepared = mnist(&image).unwrap();
            assert!(!prepared.inverted, "digit {index}");
            assert_eq!(prepared.scaled.0.max(prepared.scaled.1), BOX);
            // Only faint pixels (≤ INK) outside the ink box may be lost, under 2% of the ink.
            for (i, (&a, &b)) in digit.iter().zip(&prepared.pixels).enumerate() {
                assert!(
                    a == b || (a <= INK && b == 0),
                    "digit {index} pixel {i}: {a} → {b}"
                );
            }
            let mass = |pixels: &[u8]| pixels.iter().map(|&p| u32::from(p)).sum::<u32>();
            let lost = mass(digit) - mass(&prepared.pixels);
            assert!(lost * 50 <= mass(digit), "digit {index} lost {lost}");
            for model in mnist::Model::SMALL {
                let before = mnist::classify(model, digit).unwrap().class;
                let after = mnist::classify(model, &prepared.pixels).unwrap().class;
                assert_eq!(before, after, "digit {index}, {}", model.name());
            }
            changed += usize::from(digit != prepared.pixels.as_slice());
        }
        // Most are bit for bit the same; the rest lost only faint pixels.
        assert!(changed < 32, "{changed} of 64 digits changed");
    }

    #[test]
    fn an_inverted_image_is_detected_and_inverted_and_a_normal_one_is_not() {
        for index in [0, 1, 2, 17, 63] {
            let (_, digit) = mnist::digit(index).unwrap();
            let normal = Gray {
                width: SIDE,
                height: SIDE,
                pixels: digit.to_vec(),
            };
            let inverted = Gray {
                pixels: digit.iter().map(|&p| 255 - p).collect(),
                ..normal.clone()
            };
            let a = mnist(&normal).unwrap();
            let b = mnist(&inverted).unwrap();
            assert!(!a.inverted && b.inverted, "digit {index}");
            assert_eq!(a.pixels, b.pixels, "digit {index}");
        }
        // A dark bar on a light, slightly gray paper: inverted and levelled to black.
        let prepared = mnist(&bar(60, 90, true)).unwrap();
        assert!(prepared.inverted);
        assert_eq!(
            prepared.pixels.iter().filter(|&&p| p == 0).count(),
            784 - 20 * 4
        );
        assert!(
            prepared.pixels.iter().all(|&p| p == 0 || p == 244),
            "{:?}",
            prepared.pixels
        );
    }

    #[test]
    fn a_blank_image_is_refused() {
        for fill in [0u8, 30, 128, 255] {
            for (width, height) in [(1, 1), (28, 28), (300, 17)] {
                let image = Gray {
                    width,
                    height,
                    pixels: vec![fill; width * height],
                };
                let error = mnist(&image).unwrap_err().to_string();
                assert!(error.contains("blank"), "{error}");
            }
        }
        // A faint smudge (at most INK above the background) is no ink either.
        let mut pixels = vec![0u8; 784];
        pixels[300] = INK;
        let image = Gray {
            width: SIDE,
            height: SIDE,
            pixels,
        };
        assert!(mnist(&image).is_err());
        // Inconsistent sizes are an error, not a panic.
        let image = Gray {
            width: 3,
            height: 3,
            pixels: vec![0; 8],
        };
        assert!(mnist(&image).is_err());
    }

    #[test]
    fn never_panics_on_random_images() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let width = 1 + (crate::image::tests::xorshift(&mut state) % 70) as usize;
            let height = 1 + (crate::image::tests::xorshift(&mut state) % 70) as usize;
            let sparse = crate::image::tests::xorshift(&mut state).is_multiple_of(4);
            let pixels = (0..width * height)
                .map(|_| {
                    let r = crate::image::tests::xorshift(&mut state);
                    if sparse && !r.is_multiple_of(17) {
                        0
                    } else {
                        (r >> 8) as u8
                    }
                })
                .collect();
            let image = Gray {
                width,
                height,
                pixels,
            };
            if let Ok(prepared) = mnist(&image) {
                assert_eq!(prepared.pixels.len(), 784);
                assert!(prepared.scaled.0 <= BOX && prepared.scaled.1 <= BOX);
                assert_eq!(prepared.scaled.0.max(prepared.scaled.1), BOX);
            }
        }
    }
}
