@group(0) @binding(0) var<storage, read_write> out: array<f32>;

fn nnc_pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn nnc_uniform(i: u32, counter: u32) -> f32 {
  return f32(nnc_pcg(nnc_pcg(nnc_pcg(i) + counter) + 11u) >> 8u) / 16777216.0f;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 10u) {
    return;
  }
  let u1 = nnc_uniform(2u * i, 3u);
  let u2 = nnc_uniform(2u * i + 1u, 3u);
  out[i] = sqrt(-2.0f * log(1.0f - u1)) * cos(6.283185307179586f * u2);
}
