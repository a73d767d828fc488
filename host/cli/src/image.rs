//! A user's digit image: reading it ([`read`]) and preparing it as the MNIST digits were
//! prepared ([`prepare`]).
//!
//! Reading takes a binary PGM (`P5`) or an 8-bit PNG (grayscale, gray+alpha, RGB or RGBA) of any
//! size up to [`MAX_SIDE`]×[`MAX_SIDE`] and returns its gray pixels, row by row (transparent
//! pixels composited over white). The size a header claims is checked before anything is
//! allocated for it. Anything else is a clear error.

use anyhow::{Context, Result, bail, ensure};

pub(crate) mod prepare;

/// Side of an MNIST image in pixels.
pub(crate) const SIDE: usize = 28;

/// The longest side of an image that is read; larger images are refused.
pub(crate) const MAX_SIDE: usize = 4096;

/// A gray image: `width × height` pixels, row by row, 0 black to 255 white.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gray {
    /// Width in pixels (1..=[`MAX_SIDE`]).
    pub(crate) width: usize,
    /// Height in pixels (1..=[`MAX_SIDE`]).
    pub(crate) height: usize,
    /// `width * height` gray bytes, row by row.
    pub(crate) pixels: Vec<u8>,
}

/// The gray image in a PGM or PNG file's contents.
pub(crate) fn read(bytes: &[u8]) -> Result<Gray> {
    if bytes.starts_with(b"P5") {
        pgm(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)
    } else {
        bail!("not a binary PGM (P5) or PNG image");
    }
}

/// Refuses an empty or oversized image size before anything is allocated for it.
fn check_size(width: usize, height: usize) -> Result<()> {
    ensure!(
        width >= 1 && height >= 1,
        "the image is {width}×{height}: it has no pixels"
    );
    ensure!(
        width <= MAX_SIDE && height <= MAX_SIDE,
        "the image is {width}×{height}; at most {MAX_SIDE}×{MAX_SIDE} is read"
    );
    Ok(())
}

/// A binary PGM: `P5`, width, height, maxval (≤ 255), one whitespace byte, then the pixels;
/// `#` comments allowed in the header.
fn pgm(bytes: &[u8]) -> Result<Gray> {
    let mut fields = Vec::new();
    let mut at = 2;
    while fields.len() < 3 {
        match bytes.get(at) {
            None => bail!("truncated PGM header"),
            Some(b'#') => {
                while bytes.get(at).is_some_and(|&b| b != b'\n') {
                    at += 1;
                }
            }
            Some(b) if b.is_ascii_whitespace() => at += 1,
            Some(b) if b.is_ascii_digit() => {
                let start = at;
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                let text = std::str::from_utf8(&bytes[start..at]).context("PGM header")?;
                let number = text
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n <= 1 << 20)
                    .with_context(|| format!("PGM header number {text} out of range"))?;
                fields.push(number);
            }
            Some(_) => bail!("malformed PGM header"),
        }
    }
    let (width, height, maxval) = (fields[0], fields[1], fields[2]);
    check_size(width, height)?;
    ensure!(
        (1..=255).contains(&maxval),
        "PGM maxval {maxval}: only 8-bit images are read"
    );
    let data = bytes
        .get(at + 1..at + 1 + width * height)
        .context("truncated PGM pixel data")?;
    // Scale to 0..=255.
    let pixels = data
        .iter()
        .map(|&p| (usize::from(p).min(maxval) * 255 / maxval) as u8)
        .collect();
    Ok(Gray {
        width,
        height,
        pixels,
    })
}

/// An 8-bit PNG, converted to gray by the mean of its color channels; a pixel with an alpha
/// channel is composited over white, as an image viewer shows it (so black ink on a transparent
/// background reads as a dark digit on a light background).
fn png(bytes: &[u8]) -> Result<Gray> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().context("unreadable PNG")?;
    let header = reader.info();
    check_size(header.width as usize, header.height as usize)?;
    ensure!(
        header.bit_depth == png::BitDepth::Eight,
        "only 8-bit PNGs are read"
    );
    let size = reader
        .output_buffer_size()
        .context("PNG too large to decode")?;
    let mut buffer = vec![0; size];
    let info = reader.next_frame(&mut buffer).context("unreadable PNG")?;
    let (width, height) = (info.width as usize, info.height as usize);
    check_size(width, height)?;
    ensure!(
        info.bit_depth == png::BitDepth::Eight,
        "only 8-bit PNGs are read"
    );
    let (channels, colors) = match info.color_type {
        png::ColorType::Grayscale => (1, 1),
        png::ColorType::GrayscaleAlpha => (2, 1),
        png::ColorType::Rgb => (3, 3),
        png::ColorType::Rgba => (4, 3),
        png::ColorType::Indexed => bail!("indexed PNGs are not read; save it as grayscale"),
    };
    let data = buffer.get(..info.buffer_size()).context("unreadable PNG")?;
    let pixels: Vec<u8> = data
        .chunks_exact(info.line_size)
        .flat_map(|row| row.chunks_exact(channels).take(width))
        .map(|pixel| {
            let sum: usize = pixel[..colors].iter().map(|&c| usize::from(c)).sum();
            let gray = sum / colors;
            match pixel.get(colors) {
                Some(&alpha) => {
                    let alpha = usize::from(alpha);
                    ((gray * alpha + 255 * (255 - alpha)) / 255) as u8
                }
                None => gray as u8,
            }
        })
        .collect();
    ensure!(pixels.len() == width * height, "unreadable PNG");
    Ok(Gray {
        width,
        height,
        pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pgm_file(width: usize, height: usize, maxval: usize) -> Vec<u8> {
        let mut file = format!("P5\n# a comment\n{width} {height}\n{maxval}\n").into_bytes();
        file.extend((0..width * height).map(|i| (i % (maxval + 1)) as u8));
        file
    }

    fn png_file(width: u32, height: u32, color: png::ColorType, channels: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        // Gray level = pixel index (mod 256), opaque.
        let alpha = matches!(color, png::ColorType::GrayscaleAlpha | png::ColorType::Rgba);
        let data: Vec<u8> = (0..width as usize * height as usize * channels)
            .map(|i| {
                if alpha && i % channels == channels - 1 {
                    255
                } else {
                    (i / channels) as u8
                }
            })
            .collect();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn reads_pgm_and_scales_maxval() {
        let image = read(&pgm_file(28, 28, 255)).unwrap();
        assert_eq!(
            (image.width, image.height, image.pixels.len()),
            (28, 28, 784)
        );
        assert_eq!(image.pixels[5], 5);
        let image = read(&pgm_file(28, 28, 15)).unwrap();
        assert_eq!(image.pixels[15], 255);
        assert_eq!(image.pixels[16], 0);
        let image = read(&pgm_file(300, 7, 255)).unwrap();
        assert_eq!(
            (image.width, image.height, image.pixels.len()),
            (300, 7, 2100)
        );
    }

    #[test]
    fn reads_png_in_every_8_bit_color_type_and_any_size() {
        for (color, channels) in [
            (png::ColorType::Grayscale, 1),
            (png::ColorType::GrayscaleAlpha, 2),
            (png::ColorType::Rgb, 3),
            (png::ColorType::Rgba, 4),
        ] {
            let image = read(&png_file(28, 28, color, channels)).unwrap();
            assert_eq!(image.pixels.len(), 784);
            assert_eq!(image.pixels[100], 100, "{color:?}");
            let image = read(&png_file(50, 3, color, channels)).unwrap();
            assert_eq!((image.width, image.height), (50, 3), "{color:?}");
            assert_eq!(image.pixels[60], 60, "{color:?}");
        }
    }

    #[test]
    fn composites_transparent_png_pixels_over_white() {
        for (color, channels) in [
            (png::ColorType::GrayscaleAlpha, 2),
            (png::ColorType::Rgba, 4),
        ] {
            // Black everywhere; opaque, half transparent and fully transparent pixels.
            let mut data = vec![0u8; 3 * channels];
            data[channels - 1] = 255;
            data[2 * channels - 1] = 128;
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, 3, 1);
            encoder.set_color(color);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&data).unwrap();
            writer.finish().unwrap();
            assert_eq!(read(&out).unwrap().pixels, [0, 127, 255], "{color:?}");
        }
    }

    #[test]
    fn refuses_oversized_empty_truncated_and_other_files() {
        // Oversized headers are refused before any allocation (no pixel data follows).
        let error = read(b"P5\n4097 28\n255\n").unwrap_err().to_string();
        assert!(error.contains("4097×28"), "{error}");
        assert!(read(b"P5\n99999999999999999999999 1\n255\n").is_err());
        assert!(read(b"P5\n0 28\n255\n").is_err());
        assert!(read(&png_file(4097, 1, png::ColorType::Grayscale, 1)).is_err());
        assert!(read(b"GIF89a").is_err());
        assert!(read(b"P5\n28 28").is_err());
        assert!(read(b"P5\n28 28\n256\n").is_err());
        assert!(read(b"P5 28 x").is_err());
        let mut truncated = pgm_file(28, 28, 255);
        truncated.truncate(100);
        assert!(read(&truncated).is_err());
        let mut png = png_file(28, 28, png::ColorType::Grayscale, 1);
        png.truncate(40);
        assert!(read(&png).is_err());
    }

    /// A small deterministic generator for the fuzz-ish tests (xorshift64).
    pub(crate) fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn never_panics_on_random_bytes_or_mangled_files() {
        let mut state = 0x0123_4567_89ab_cdef;
        let valid = [
            pgm_file(28, 28, 255),
            png_file(40, 30, png::ColorType::Rgb, 3),
        ];
        for round in 0..3000 {
            let mut bytes = match round % 3 {
                0 => (0..xorshift(&mut state) % 200)
                    .map(|_| xorshift(&mut state) as u8)
                    .collect::<Vec<u8>>(),
                1 => {
                    let mut header = format!(
                        "P5 {} {} {}\n",
                        xorshift(&mut state) % 5000,
                        xorshift(&mut state) % 5000,
                        xorshift(&mut state) % 300
                    )
                    .into_bytes();
                    header.extend((0..xorshift(&mut state) % 3000).map(|i| i as u8));
                    header
                }
                _ => valid[round % 2].clone(),
            };
            // Flip a few bytes and cut somewhere.
            for _ in 0..xorshift(&mut state) % 4 {
                if !bytes.is_empty() {
                    let at = (xorshift(&mut state) as usize) % bytes.len();
                    bytes[at] = xorshift(&mut state) as u8;
                }
            }
            if round % 5 == 0 && !bytes.is_empty() {
                bytes.truncate((xorshift(&mut state) as usize) % bytes.len());
            }
            if let Ok(image) = read(&bytes) {
                assert_eq!(image.pixels.len(), image.width * image.height);
                let _ = prepare::mnist(&image);
            }
        }
    }
}
