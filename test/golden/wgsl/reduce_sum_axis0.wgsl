@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 7u) {
    return;
  }
  let k0 = i;
  let base = k0;
  var acc = 0.0f;
  for (var r = 0u; r < 5u; r++) {
    acc += x[base + r * 7u];
  }
  out[i] = acc;
}
