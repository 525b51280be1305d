@group(0) @binding(0) var<storage, read> table: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 24u) {
    return;
  }
  let j = i / 6u;
  let d = i % 6u;
  let row = idx[j];
  let ok = row >= 0i && row < 7i;
  let v = table[u32(clamp(row, 0i, 6i)) * 6u + d];
  out[i] = select(0.0f, v, ok);
}
