@group(0) @binding(0) var<storage, read> in0: array<f32>;
@group(0) @binding(1) var<storage, read> in1: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 35u) {
    return;
  }
  let c0 = (i / 7u);
  let c1 = i % 7u;
  let v0 = in0[i];
  let v1 = in1[c1];
  out[i] = v0 + v1;
}
