@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 5u) {
    return;
  }
  let tn = i % 1u;
  let tm = (i / 1u) % 5u;
  let bt = i / 5u;
  let m0 = tm * 1u;
  let n0 = tn * 8u;
  let aBase = 0u;
  let bBase = 0u;
  let oBase = bt * 30u;
  var acc0_0 = vec4<f32>(0.0f);
  var acc0_1 = vec4<f32>(0.0f);
  let ar0 = aBase + (m0 + 0u) * 7u;
  let bc0 = bBase + min(n0 + 0u, 5u);
  let bc1 = bBase + min(n0 + 1u, 5u);
  let bc2 = bBase + min(n0 + 2u, 5u);
  let bc3 = bBase + min(n0 + 3u, 5u);
  let bc4 = bBase + min(n0 + 4u, 5u);
  let bc5 = bBase + min(n0 + 5u, 5u);
  let bc6 = bBase + min(n0 + 6u, 5u);
  let bc7 = bBase + min(n0 + 7u, 5u);
  for (var k = 0u; k < 7u; k++) {
    let bv0 = vec4<f32>(b[bc0 + k * 6u], b[bc1 + k * 6u], b[bc2 + k * 6u], b[bc3 + k * 6u]);
    let bv1 = vec4<f32>(b[bc4 + k * 6u], b[bc5 + k * 6u], b[bc6 + k * 6u], b[bc7 + k * 6u]);
    let av0 = a[ar0 + k];
    acc0_0 += av0 * bv0;
    acc0_1 += av0 * bv1;
  }
  let o0 = oBase + (m0 + 0u) * 6u + n0;
  out[o0 + 0u] = acc0_0[0];
  if (n0 + 1u < 6u) { out[o0 + 1u] = acc0_0[1]; }
  if (n0 + 2u < 6u) { out[o0 + 2u] = acc0_0[2]; }
  if (n0 + 3u < 6u) { out[o0 + 3u] = acc0_0[3]; }
  if (n0 + 4u < 6u) { out[o0 + 4u + 0u] = acc0_1[0]; }
  if (n0 + 5u < 6u) { out[o0 + 4u + 1u] = acc0_1[1]; }
  if (n0 + 6u < 6u) { out[o0 + 4u + 2u] = acc0_1[2]; }
  if (n0 + 7u < 6u) { out[o0 + 4u + 3u] = acc0_1[3]; }
}
