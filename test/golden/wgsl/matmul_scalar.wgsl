@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 4u) {
    return;
  }
  let tn = i % 2u;
  let tm = (i / 2u) % 2u;
  let bt = i / 4u;
  let m0 = tm * 4u;
  let n0 = tn * 4u;
  let aBase = 0u;
  let bBase = 0u;
  let oBase = bt * 30u;
  var acc0_0 = vec4<f32>(0.0f);
  var acc1_0 = vec4<f32>(0.0f);
  var acc2_0 = vec4<f32>(0.0f);
  var acc3_0 = vec4<f32>(0.0f);
  let ar0 = aBase + min(m0 + 0u, 4u) * 7u;
  let ar1 = aBase + min(m0 + 1u, 4u) * 7u;
  let ar2 = aBase + min(m0 + 2u, 4u) * 7u;
  let ar3 = aBase + min(m0 + 3u, 4u) * 7u;
  let bc0 = bBase + min(n0 + 0u, 5u);
  let bc1 = bBase + min(n0 + 1u, 5u);
  let bc2 = bBase + min(n0 + 2u, 5u);
  let bc3 = bBase + min(n0 + 3u, 5u);
  for (var k = 0u; k < 7u; k++) {
    let bv0 = vec4<f32>(b[bc0 + k * 6u], b[bc1 + k * 6u], b[bc2 + k * 6u], b[bc3 + k * 6u]);
    let av0 = a[ar0 + k];
    acc0_0 += av0 * bv0;
    let av1 = a[ar1 + k];
    acc1_0 += av1 * bv0;
    let av2 = a[ar2 + k];
    acc2_0 += av2 * bv0;
    let av3 = a[ar3 + k];
    acc3_0 += av3 * bv0;
  }
  let o0 = oBase + (m0 + 0u) * 6u + n0;
  out[o0 + 0u] = acc0_0[0];
  if (n0 + 1u < 6u) { out[o0 + 1u] = acc0_0[1]; }
  if (n0 + 2u < 6u) { out[o0 + 2u] = acc0_0[2]; }
  if (n0 + 3u < 6u) { out[o0 + 3u] = acc0_0[3]; }
  if (m0 + 1u < 5u) {
    let o1 = oBase + (m0 + 1u) * 6u + n0;
    out[o1 + 0u] = acc1_0[0];
    if (n0 + 1u < 6u) { out[o1 + 1u] = acc1_0[1]; }
    if (n0 + 2u < 6u) { out[o1 + 2u] = acc1_0[2]; }
    if (n0 + 3u < 6u) { out[o1 + 3u] = acc1_0[3]; }
  }
  if (m0 + 2u < 5u) {
    let o2 = oBase + (m0 + 2u) * 6u + n0;
    out[o2 + 0u] = acc2_0[0];
    if (n0 + 1u < 6u) { out[o2 + 1u] = acc2_0[1]; }
    if (n0 + 2u < 6u) { out[o2 + 2u] = acc2_0[2]; }
    if (n0 + 3u < 6u) { out[o2 + 3u] = acc2_0[3]; }
  }
  if (m0 + 3u < 5u) {
    let o3 = oBase + (m0 + 3u) * 6u + n0;
    out[o3 + 0u] = acc3_0[0];
    if (n0 + 1u < 6u) { out[o3 + 1u] = acc3_0[1]; }
    if (n0 + 2u < 6u) { out[o3 + 2u] = acc3_0[2]; }
    if (n0 + 3u < 6u) { out[o3 + 3u] = acc3_0[3]; }
  }
}
