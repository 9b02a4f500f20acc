//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks",
//! 2016): a 3×3, stride-1 convolution computed 2×2 output pixels at a time from 4×4 input tiles, with 16 products per
//! tile and channel pair where im2col takes 36, 2.25× fewer multiply-adds. Every VGG16 convolution but the first is
//! one, and so is the input's gradient of each: the output's gradient convolved with the kernel flipped and its
//! channels swapped, whose transform is the forward one's with its 16 entries permuted and each matrix transposed, so
//! one transformed kernel serves both.
//!
//! Per block of tiles: `V[ξ] = Bᵀ d B` of every input tile `d` (16 matrices, channels × tiles), `M[ξ] = U[ξ] · V[ξ]`
//! (16 gemms against the transformed kernel `U[ξ] = G g Gᵀ`, out channels × in channels), and `Aᵀ M A` of every tile
//! into the output. Its rounding differs from im2col's by a few units in the last place (the transforms add before
//! they multiply); the tests hold it to burn's convolution within the same bound as the other paths.

use std::ops::Range;

use super::flex::{Geometry, SharedOutput, pool, scratch};

/// Output pixels per tile side, input pixels per tile side, and the transform's entries per tile.
const OUT: usize = 2;
const TILE: usize = 4;
const ENTRIES: usize = TILE * TILE;

/// Whether F(2×2, 3×3) pays on these sizes: a dense 3×3 stride-1 convolution (undilated) whose channels make the 16
/// products a real gemm. A first layer's 3 channels, or a map too small for a block of tiles, stay on im2col.
pub(super) fn fits(g: &Geometry) -> bool {
    (g.k_h, g.k_w) == (3, 3)
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.c_in >= 16
        && g.c_out >= 16
        && g.out_h.div_ceil(OUT) * g.out_w.div_ceil(OUT) >= MIN_TILES
}

/// Below this many tiles per image the transformed kernel (16/9 of the weight) costs more to stream through gemm's
/// packing than the saved products gain (measured: VGG16's conv5_3 has 16 at 128 px and 49 at 224 px, where
/// im2col is faster).
const MIN_TILES: usize = 64;

/// A 3×3 kernel `[out, in, 3, 3]` transformed: `U[ξ] = G g Gᵀ` for every channel pair, laid out as 16 matrices
/// `[out, in]` (row-major), ξ = 4·row + column of the 4×4 transform.
pub(super) fn transform_kernel(weight: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; ENTRIES * c_out * c_in];
    // G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]].
    let g = |v: [f32; 3]| [v[0], 0.5 * (v[0] + v[1] + v[2]), 0.5 * (v[0] - v[1] + v[2]), v[2]];
    for (pair, k) in weight.chunks_exact(9).enumerate() {
        // G g: the kernel's columns through G, then its rows.
        let columns: [[f32; 4]; 3] = [0, 1, 2].map(|j| g([k[j], k[3 + j], k[6 + j]]));
        for i in 0..TILE {
            let row = g([columns[0][i], columns[1][i], columns[2][i]]);
            for (j, value) in row.into_iter().enumerate() {
                u[(i * TILE + j) * c_out * c_in + pair] = value;
            }
        }
    }
    u
}

/// The convolution of `x` by the kernel whose transform is `u` (see [`transform_kernel`]), plus `bias`. With
/// `transposed`, `u` is the transform of a kernel `[in, out, 3, 3]` of the *other* shape, and the convolution is by that
/// kernel flipped in space with its channels swapped: the input's gradient of the convolution `u` came from.
pub(super) fn convolve(x: &[f32], u: &[f32], transposed: bool, bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let (tiles_h, tiles_w) = (g.out_h.div_ceil(OUT), g.out_w.div_ceil(OUT));
    // Whole rows of tiles per block: the block's 16 transformed input matrices in about a worker's scratch block, and
    // at least two blocks a worker where the map allows (the transforms run only where the blocks do).
    let fitting = super::flex::BLOCK_FLOATS / (ENTRIES * g.c_in * tiles_w);
    let spread = tiles_h.div_ceil((2 * pool::threads()).div_ceil(g.batch));
    let rows_per_block = fitting.min(spread).max(1);
    let blocks = tiles_h.div_ceil(rows_per_block);
    let jobs = g.batch * blocks;
    let plane = g.out_h * g.out_w;
    let mut output = vec![0.0f32; g.batch * g.c_out * plane];
    let out = SharedOutput(output.as_mut_ptr());
    let split_gemm = jobs < 2 * pool::threads();
    let job = |index: usize| {
        let (image, block) = (index / blocks, index % blocks);
        let tile_rows = block * rows_per_block..((block + 1) * rows_per_block).min(tiles_h);
        let count = tile_rows.len() * tiles_w;
        let input = &x[image * g.c_in * g.in_h * g.in_w..][..g.c_in * g.in_h * g.in_w];
        // The transformed tiles, their products, and the rows the transforms work in.
        scratch(ENTRIES * (g.c_in + g.c_out) * count + TILE * 2 * row_width(g), |buffer| {
            let (v, rest) = buffer.split_at_mut(ENTRIES * g.c_in * count);
            let (m, rows) = rest.split_at_mut(ENTRIES * g.c_out * count);
            transform_input(input, g, tile_rows.clone(), v, rows);
            for entry in 0..ENTRIES {
                let (v, m) = (&v[entry * g.c_in * count..], &mut m[entry * g.c_out * count..]);
                multiply(u, transposed, entry, v, m, g, count, split_gemm);
            }
            transform_output(m, bias, g, tile_rows, out.offset(image * g.c_out * plane), rows);
        });
    };
    if split_gemm {
        (0..jobs).for_each(job);
    } else {
        pool::for_each(jobs, job);
    }
    output
}

/// An input row as the tiles read it: its padding, and whatever the last tile reads past it, as zeros.
fn row_width(g: &Geometry) -> usize {
    OUT * g.out_w.div_ceil(OUT) + 2
}

/// `V[ξ][c][t] = (Bᵀ d B)[ξ]` for the input tile `d` of channel `c` under tile `t` of the rows `tile_rows`, zero
/// outside the input, where Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]. Bᵀ runs down whole
/// rows first (4 input rows to 4 combinations), then B along each combination, tile by tile: both loops over
/// contiguous rows, which the compiler vectorises. `work`: 8 rows of [`row_width`], written before they are read.
fn transform_input(input: &[f32], g: &Geometry, tile_rows: Range<usize>, v: &mut [f32], work: &mut [f32]) {
    let tiles_w = g.out_w.div_ceil(OUT);
    let count = tile_rows.len() * tiles_w;
    let stride = g.c_in * count;
    let width = row_width(g);
    let (rows, combinations) = work.split_at_mut(TILE * width);
    for (c, channel) in input.chunks_exact(g.in_h * g.in_w).enumerate() {
        for (r, tile_row) in tile_rows.clone().enumerate() {
            for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                row.fill(0.0);
                let y = (tile_row * OUT + i) as isize - g.top as isize;
                if (0..g.in_h as isize).contains(&y) {
                    let columns = g.in_w.min(width - g.left);
                    row[g.left..g.left + columns].copy_from_slice(&channel[y as usize * g.in_w..][..columns]);
                }
            }
            let (d0, d1, d2, d3) = quarters(rows, width);
            let (c0, rest) = combinations.split_at_mut(width);
            let (c1, rest) = rest.split_at_mut(width);
            let (c2, c3) = rest.split_at_mut(width);
            for p in 0..width {
                c0[p] = d0[p] - d2[p];
                c1[p] = d1[p] + d2[p];
                c2[p] = d2[p] - d1[p];
                c3[p] = d1[p] - d3[p];
            }
            for (i, combination) in combinations.chunks_exact(width).enumerate() {
                let at = |j: usize| (i * TILE + j) * stride + c * count + r * tiles_w;
                let pair = |tx: usize, j: usize| combination[OUT * tx + j];
                for (tx, value) in v[at(0)..][..tiles_w].iter_mut().enumerate() {
                    *value = pair(tx, 0) - pair(tx, 2);
                }
                for (tx, value) in v[at(1)..][..tiles_w].iter_mut().enumerate() {
                    *value = pair(tx, 1) + pair(tx, 2);
                }
                for (tx, value) in v[at(2)..][..tiles_w].iter_mut().enumerate() {
                    *value = pair(tx, 2) - pair(tx, 1);
                }
                for (tx, value) in v[at(3)..][..tiles_w].iter_mut().enumerate() {
                    *value = pair(tx, 1) - pair(tx, 3);
                }
            }
        }
    }
}

/// The four rows of `width` in `rows`.
fn quarters(rows: &[f32], width: usize) -> (&[f32], &[f32], &[f32], &[f32]) {
    let (a, rest) = rows.split_at(width);
    let (b, rest) = rest.split_at(width);
    let (c, d) = rest.split_at(width);
    (a, b, c, d)
}

/// `M[ξ] = U[ξ] · V[ξ]` for one entry ξ: `[out, count]` from `[out, in]` and `[in, count]`. Transposed, the product
/// takes `U[p(ξ)]ᵀ`, p swapping rows 0 and 3 and columns 0 and 3 (G applied to a reversed kernel reverses G's output).
#[allow(clippy::too_many_arguments)]
fn multiply(
    u: &[f32],
    transposed: bool,
    entry: usize,
    v: &[f32],
    m: &mut [f32],
    g: &Geometry,
    count: usize,
    split: bool,
) {
    let pairs = g.c_out * g.c_in;
    let (lhs, column_stride, row_stride) = if transposed {
        let swap = |i: usize| [3, 1, 2, 0][i];
        let source = swap(entry / TILE) * TILE + swap(entry % TILE);
        (&u[source * pairs..][..pairs], g.c_out, 1)
    } else {
        (&u[entry * pairs..][..pairs], 1, g.c_in)
    };
    // SAFETY: `m` holds `c_out × count`, `lhs` `c_out × c_in` and `v` `c_in × count`, at the strides given.
    unsafe {
        gemm::gemm(
            g.c_out,
            count,
            g.c_in,
            m.as_mut_ptr(),
            1,
            count as isize,
            false,
            lhs.as_ptr(),
            column_stride as isize,
            row_stride as isize,
            v.as_ptr(),
            1,
            count as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            pool::gemm_parallelism(split),
        );
    }
}

/// Each tile's `Aᵀ M A` (2×2 output pixels, those inside the output) plus the bias, for the tiles of `tile_rows`,
/// into the image at `image`, where Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]: Aᵀ down the entries' columns for a whole row
/// of tiles at once, then A along each of the two results into the output's two rows. `work`: as for
/// [`transform_input`].
fn transform_output(
    m: &[f32],
    bias: Option<&[f32]>,
    g: &Geometry,
    tile_rows: Range<usize>,
    image: SharedOutput,
    work: &mut [f32],
) {
    let tiles_w = g.out_w.div_ceil(OUT);
    let count = tile_rows.len() * tiles_w;
    let stride = g.c_out * count;
    // The two rows of Aᵀ M for each of M's four columns, a row of tiles long: `sums[(2·j + i)·tiles_w + tx]`.
    let sums = &mut work[..2 * TILE * tiles_w];
    let first_y = tile_rows.start * OUT;
    let last_y = (tile_rows.end * OUT).min(g.out_h);
    for k in 0..g.c_out {
        let b = bias.map_or(0.0, |bias| bias[k]);
        // SAFETY: this job's rows of plane `k` (whole rows of tiles), which no other job writes.
        let rows = unsafe {
            std::slice::from_raw_parts_mut(image.at((k * g.out_h + first_y) * g.out_w), (last_y - first_y) * g.out_w)
        };
        for (r, output_rows) in rows.chunks_mut(OUT * g.out_w).enumerate() {
            let at = |entry: usize| &m[entry * stride + k * count + r * tiles_w..][..tiles_w];
            for j in 0..TILE {
                let (m0, m1, m2, m3) = (at(j), at(TILE + j), at(2 * TILE + j), at(3 * TILE + j));
                let (top, bottom) = sums[2 * j * tiles_w..][..2 * tiles_w].split_at_mut(tiles_w);
                for tx in 0..tiles_w {
                    top[tx] = m0[tx] + m1[tx] + m2[tx];
                    bottom[tx] = m1[tx] - m2[tx] - m3[tx];
                }
            }
            for (i, row) in output_rows.chunks_exact_mut(g.out_w).enumerate() {
                let column = |j: usize| &sums[(2 * j + i) * tiles_w..][..tiles_w];
                let (s0, s1, s2, s3) = (column(0), column(1), column(2), column(3));
                let (pairs, last) = row.split_at_mut(g.out_w / OUT * OUT);
                for (tx, pair) in pairs.chunks_exact_mut(OUT).enumerate() {
                    pair[0] = s0[tx] + s1[tx] + s2[tx] + b;
                    pair[1] = s1[tx] - s2[tx] - s3[tx] + b;
                }
                if let [value] = last {
                    let tx = tiles_w - 1;
                    *value = s0[tx] + s1[tx] + s2[tx] + b;
                }
            }
        }
    }
}
