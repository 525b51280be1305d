@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 7u) {
    return;
  }
  let o = i;
  let k0 = o;
  let base = k0;
  var acc = f32(0);
  for (var r = 0u; r < 5u; r++) {
    acc += x[base + r * 7u];
  }
  out[o] = acc;
}
