@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 8u) {
    return;
  }
  let tn = i % 1u;
  let tm = (i / 1u) % 8u;
  let bt = i / 8u;
  let m0 = tm * 1u;
  let n0 = tn * 16u;
  let aBase = 0u;
  let bBase = 0u;
  let oBase = bt * 128u;
  var acc0_0 = vec4<f32>(0.0f);
  var acc0_1 = vec4<f32>(0.0f);
  var acc0_2 = vec4<f32>(0.0f);
  var acc0_3 = vec4<f32>(0.0f);
  let ar0 = (aBase + (m0 + 0u) * 12u) / 4u;
  let bc0 = (bBase + (n0 + 0u) * 12u) / 4u;
  let bc1 = (bBase + (n0 + 1u) * 12u) / 4u;
  let bc2 = (bBase + (n0 + 2u) * 12u) / 4u;
  let bc3 = (bBase + (n0 + 3u) * 12u) / 4u;
  let bc4 = (bBase + (n0 + 4u) * 12u) / 4u;
  let bc5 = (bBase + (n0 + 5u) * 12u) / 4u;
  let bc6 = (bBase + (n0 + 6u) * 12u) / 4u;
  let bc7 = (bBase + (n0 + 7u) * 12u) / 4u;
  let bc8 = (bBase + (n0 + 8u) * 12u) / 4u;
  let bc9 = (bBase + (n0 + 9u) * 12u) / 4u;
  let bc10 = (bBase + (n0 + 10u) * 12u) / 4u;
  let bc11 = (bBase + (n0 + 11u) * 12u) / 4u;
  let bc12 = (bBase + (n0 + 12u) * 12u) / 4u;
  let bc13 = (bBase + (n0 + 13u) * 12u) / 4u;
  let bc14 = (bBase + (n0 + 14u) * 12u) / 4u;
  let bc15 = (bBase + (n0 + 15u) * 12u) / 4u;
  for (var kq = 0u; kq < 3u; kq++) {
    let a0 = a[ar0 + kq];
    let bm0 = transpose(mat4x4<f32>(
      b[bc0 + kq],
      b[bc1 + kq],
      b[bc2 + kq],
      b[bc3 + kq]
    ));
    let bm1 = transpose(mat4x4<f32>(
      b[bc4 + kq],
      b[bc5 + kq],
      b[bc6 + kq],
      b[bc7 + kq]
    ));
    let bm2 = transpose(mat4x4<f32>(
      b[bc8 + kq],
      b[bc9 + kq],
      b[bc10 + kq],
      b[bc11 + kq]
    ));
    let bm3 = transpose(mat4x4<f32>(
      b[bc12 + kq],
      b[bc13 + kq],
      b[bc14 + kq],
      b[bc15 + kq]
    ));
    acc0_0 += bm0 * a0;
    acc0_1 += bm1 * a0;
    acc0_2 += bm2 * a0;
    acc0_3 += bm3 * a0;
  }
  let o0 = oBase + (m0 + 0u) * 16u + n0;
  out[(o0) / 4u] = acc0_0;
  out[(o0 + 4u) / 4u] = acc0_1;
  out[(o0 + 8u) / 4u] = acc0_2;
  out[(o0 + 12u) / 4u] = acc0_3;
}
