@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 8u) {
    return;
  }
  let tn = i % 4u;
  let tm = (i / 4u) % 2u;
  let bt = i / 8u;
  let m0 = tm * 4u;
  let n0 = tn * 4u;
  let aBase = 0u;
  let bBase = 0u;
  let oBase = bt * 128u;
  var acc0 = vec4<f32>(0.0f);
  var acc1 = vec4<f32>(0.0f);
  var acc2 = vec4<f32>(0.0f);
  var acc3 = vec4<f32>(0.0f);
  let ar0 = (aBase + min(m0 + 0u, 7u) * 12u) / 4u;
  let ar1 = (aBase + min(m0 + 1u, 7u) * 12u) / 4u;
  let ar2 = (aBase + min(m0 + 2u, 7u) * 12u) / 4u;
  let ar3 = (aBase + min(m0 + 3u, 7u) * 12u) / 4u;
  let bc0 = (bBase + min(n0 + 0u, 15u) * 12u) / 4u;
  let bc1 = (bBase + min(n0 + 1u, 15u) * 12u) / 4u;
  let bc2 = (bBase + min(n0 + 2u, 15u) * 12u) / 4u;
  let bc3 = (bBase + min(n0 + 3u, 15u) * 12u) / 4u;
  for (var kq = 0u; kq < 3u; kq++) {
    let a0 = a[ar0 + kq];
    let a1 = a[ar1 + kq];
    let a2 = a[ar2 + kq];
    let a3 = a[ar3 + kq];
    let bm = transpose(mat4x4<f32>(
      b[bc0 + kq],
      b[bc1 + kq],
      b[bc2 + kq],
      b[bc3 + kq]
    ));
    acc0 += bm * a0;
    acc1 += bm * a1;
    acc2 += bm * a2;
    acc3 += bm * a3;
  }
  if (m0 + 0u < 8u) {
    out[(oBase + (m0 + 0u) * 16u + n0) / 4u] = acc0;
  }
  if (m0 + 1u < 8u) {
    out[(oBase + (m0 + 1u) * 16u + n0) / 4u] = acc1;
  }
  if (m0 + 2u < 8u) {
    out[(oBase + (m0 + 2u) * 16u + n0) / 4u] = acc2;
  }
  if (m0 + 3u < 8u) {
    out[(oBase + (m0 + 3u) * 16u + n0) / 4u] = acc3;
  }
}
