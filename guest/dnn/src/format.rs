//! The byte layout of a `.opml` v1 file (`docs/dnn.md`, "File format"), shared by the reader
//! and the writer. The header and the table entries are arrays of little-endian `u32` words.

/// The first 8 bytes of every `.opml` file.
pub const MAGIC: [u8; 8] = *b"OPMLNET\0";
/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;

pub(crate) const HEADER_LEN: usize = 64;
pub(crate) const TENSOR_ENTRY_LEN: usize = 48;
/// The length of a node table entry.
pub const NODE_ENTRY_LEN: usize = 56;
pub(crate) const CHECKSUM_LEN: usize = 32;
/// Alignment of the data region and of every constant in it.
pub(crate) const DATA_ALIGN: usize = 16;
/// An unused node input slot.
pub(crate) const NO_INPUT: u32 = u32::MAX;

/// The header: 16 words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Header {
    pub(crate) magic: [u8; 8],
    pub(crate) version: u32,
    pub(crate) flags: u32,
    pub(crate) tensor_count: u32,
    pub(crate) node_count: u32,
    pub(crate) input_count: u32,
    pub(crate) output_count: u32,
    pub(crate) tensors_offset: u32,
    pub(crate) nodes_offset: u32,
    pub(crate) inputs_offset: u32,
    pub(crate) outputs_offset: u32,
    pub(crate) data_offset: u32,
    pub(crate) data_len: u32,
    pub(crate) reserved: [u32; 2],
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let [m0, m1] = bytemuck::cast::<[u8; 8], [u32; 2]>(self.magic);
        let [r0, r1] = self.reserved;
        bytemuck::cast([
            m0,
            m1,
            self.version,
            self.flags,
            self.tensor_count,
            self.node_count,
            self.input_count,
            self.output_count,
            self.tensors_offset,
            self.nodes_offset,
            self.inputs_offset,
            self.outputs_offset,
            self.data_offset,
            self.data_len,
            r0,
            r1,
        ])
    }

    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        let w: [u32; 16] = bytemuck::cast(*bytes);
        Header {
            magic: bytemuck::cast([w[0], w[1]]),
            version: w[2],
            flags: w[3],
            tensor_count: w[4],
            node_count: w[5],
            input_count: w[6],
            output_count: w[7],
            tensors_offset: w[8],
            nodes_offset: w[9],
            inputs_offset: w[10],
            outputs_offset: w[11],
            data_offset: w[12],
            data_len: w[13],
            reserved: [w[14], w[15]],
        }
    }

    /// Byte offset of the first non-zero field among the flags and the reserved words.
    pub(crate) fn nonzero_reserved(&self) -> Option<usize> {
        [
            (12, self.flags),
            (56, self.reserved[0]),
            (60, self.reserved[1]),
        ]
        .into_iter()
        .find_map(|(offset, value)| (value != 0).then_some(offset))
    }
}

/// A tensor entry: 12 words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TensorEntry {
    pub(crate) dtype: u8,
    pub(crate) rank: u8,
    pub(crate) kind: u8,
    pub(crate) reserved0: u8,
    pub(crate) dims: [u32; 4],
    pub(crate) offset: u32,
    pub(crate) len: u32,
    pub(crate) scale: u32,
    pub(crate) zero_point: i32,
    pub(crate) reserved: [u32; 3],
}

impl TensorEntry {
    pub(crate) fn encode(&self) -> [u8; TENSOR_ENTRY_LEN] {
        let [d0, d1, d2, d3] = self.dims;
        let [r0, r1, r2] = self.reserved;
        bytemuck::cast([
            u32::from_le_bytes([self.dtype, self.rank, self.kind, self.reserved0]),
            d0,
            d1,
            d2,
            d3,
            self.offset,
            self.len,
            self.scale,
            self.zero_point as u32,
            r0,
            r1,
            r2,
        ])
    }

    pub(crate) fn decode(bytes: &[u8; TENSOR_ENTRY_LEN]) -> TensorEntry {
        let w: [u32; 12] = bytemuck::cast(*bytes);
        let [dtype, rank, kind, reserved0] = w[0].to_le_bytes();
        TensorEntry {
            dtype,
            rank,
            kind,
            reserved0,
            dims: [w[1], w[2], w[3], w[4]],
            offset: w[5],
            len: w[6],
            scale: w[7],
            zero_point: w[8] as i32,
            reserved: [w[9], w[10], w[11]],
        }
    }

    /// Byte offset, within the entry, of the first non-zero reserved field.
    pub(crate) fn nonzero_reserved(&self) -> Option<usize> {
        let [r0, r1, r2] = self.reserved;
        [(3, u32::from(self.reserved0)), (36, r0), (40, r1), (44, r2)]
            .into_iter()
            .find_map(|(offset, value)| (value != 0).then_some(offset))
    }
}

/// A node entry: 14 words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeEntry {
    pub(crate) op: u16,
    pub(crate) input_count: u8,
    pub(crate) reserved0: u8,
    pub(crate) inputs: [u32; 4],
    pub(crate) output: u32,
    pub(crate) params: [i32; 8],
}

impl NodeEntry {
    pub(crate) fn encode(&self) -> [u8; NODE_ENTRY_LEN] {
        let mut w = [0u32; 14];
        let [op0, op1] = self.op.to_le_bytes();
        w[0] = u32::from_le_bytes([op0, op1, self.input_count, self.reserved0]);
        w[1..5].copy_from_slice(&self.inputs);
        w[5] = self.output;
        w[6..].copy_from_slice(&self.params.map(|p| p as u32));
        bytemuck::cast(w)
    }

    pub(crate) fn decode(bytes: &[u8; NODE_ENTRY_LEN]) -> NodeEntry {
        let w: [u32; 14] = bytemuck::cast(*bytes);
        let [op0, op1, input_count, reserved0] = w[0].to_le_bytes();
        NodeEntry {
            op: u16::from_le_bytes([op0, op1]),
            input_count,
            reserved0,
            inputs: [w[1], w[2], w[3], w[4]],
            output: w[5],
            params: bytemuck::cast([w[6], w[7], w[8], w[9], w[10], w[11], w[12], w[13]]),
        }
    }
}
