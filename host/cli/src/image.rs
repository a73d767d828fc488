//! Reading a user's 28×28 digit: binary PGM (`P5`) or PNG (grayscale, gray+alpha, RGB or RGBA,
//! 8-bit), returned as 784 gray bytes, row by row. Anything else is a clear error.

use anyhow::{Context, Result, bail, ensure};

/// Side of an MNIST image in pixels.
pub(crate) const SIDE: usize = 28;

/// The 784 gray bytes of a 28×28 PGM or PNG file's contents.
pub(crate) fn gray_28x28(bytes: &[u8]) -> Result<Vec<u8>> {
    let pixels = if bytes.starts_with(b"P5") {
        pgm(bytes)?
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)?
    } else {
        bail!("not a binary PGM (P5) or PNG image");
    };
    ensure!(
        pixels.len() == SIDE * SIDE,
        "the image must be {SIDE}×{SIDE} pixels"
    );
    Ok(pixels)
}

/// A binary PGM: `P5`, width, height, maxval (≤ 255), one whitespace byte, then the pixels;
/// `#` comments allowed in the header.
fn pgm(bytes: &[u8]) -> Result<Vec<u8>> {
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
                fields.push(text.parse::<usize>().context("PGM header number")?);
            }
            Some(_) => bail!("malformed PGM header"),
        }
    }
    let (width, height, maxval) = (fields[0], fields[1], fields[2]);
    ensure!(
        width == SIDE && height == SIDE,
        "the image is {width}×{height}; it must be {SIDE}×{SIDE}"
    );
    ensure!(
        (1..=255).contains(&maxval),
        "PGM maxval {maxval}: only 8-bit images are read"
    );
    let data = bytes
        .get(at + 1..at + 1 + SIDE * SIDE)
        .context("truncated PGM pixel data")?;
    // Scale to 0..=255.
    Ok(data
        .iter()
        .map(|&p| (usize::from(p).min(maxval) * 255 / maxval) as u8)
        .collect())
}

/// An 8-bit PNG, converted to gray by the mean of its color channels (alpha ignored).
fn png(bytes: &[u8]) -> Result<Vec<u8>> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().context("unreadable PNG")?;
    let size = reader
        .output_buffer_size()
        .context("PNG too large to decode")?;
    let mut buffer = vec![0; size];
    let info = reader.next_frame(&mut buffer).context("unreadable PNG")?;
    ensure!(
        info.width as usize == SIDE && info.height as usize == SIDE,
        "the image is {}×{}; it must be {SIDE}×{SIDE}",
        info.width,
        info.height
    );
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
    let data = &buffer[..info.buffer_size()];
    Ok(data
        .chunks_exact(info.line_size)
        .flat_map(|row| row.chunks_exact(channels).take(SIDE))
        .map(|pixel| {
            let sum: usize = pixel[..colors].iter().map(|&c| usize::from(c)).sum();
            (sum / colors) as u8
        })
        .collect())
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
        let data: Vec<u8> = (0..width as usize * height as usize * channels)
            .map(|i| (i / channels) as u8)
            .collect();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn reads_pgm_and_scales_maxval() {
        let pixels = gray_28x28(&pgm_file(28, 28, 255)).unwrap();
        assert_eq!(pixels.len(), 784);
        assert_eq!(pixels[5], 5);
        let pixels = gray_28x28(&pgm_file(28, 28, 15)).unwrap();
        assert_eq!(pixels[15], 255);
        assert_eq!(pixels[16], 0);
    }

    #[test]
    fn reads_png_in_every_8_bit_color_type() {
        for (color, channels) in [
            (png::ColorType::Grayscale, 1),
            (png::ColorType::GrayscaleAlpha, 2),
            (png::ColorType::Rgb, 3),
            (png::ColorType::Rgba, 4),
        ] {
            let pixels = gray_28x28(&png_file(28, 28, color, channels)).unwrap();
            assert_eq!(pixels.len(), 784);
            assert_eq!(pixels[100], 100, "{color:?}");
        }
    }

    #[test]
    fn refuses_wrong_sizes_and_other_files() {
        assert!(gray_28x28(&pgm_file(27, 28, 255)).is_err());
        assert!(gray_28x28(&png_file(28, 27, png::ColorType::Grayscale, 1)).is_err());
        assert!(gray_28x28(b"GIF89a").is_err());
        assert!(gray_28x28(b"P5\n28 28").is_err());
        let mut truncated = pgm_file(28, 28, 255);
        truncated.truncate(100);
        assert!(gray_28x28(&truncated).is_err());
        let mut png = png_file(28, 28, png::ColorType::Grayscale, 1);
        png.truncate(40);
        assert!(gray_28x28(&png).is_err());
    }
}
