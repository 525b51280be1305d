@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 2u) {
    return;
  }
  let tn = i % 2u;
  let tm = (i / 2u) % 1u;
  let bt = i / 2u;
  let m0 = tm * 8u;
  let n0 = tn * 8u;
  let aBase = 0u;
  let bBase = 0u;
  let oBase = bt * 128u;
  var acc0_0 = vec4<f32>(0.0f);
  var acc0_1 = vec4<f32>(0.0f);
  var acc1_0 = vec4<f32>(0.0f);
  var acc1_1 = vec4<f32>(0.0f);
  var acc2_0 = vec4<f32>(0.0f);
  var acc2_1 = vec4<f32>(0.0f);
  var acc3_0 = vec4<f32>(0.0f);
  var acc3_1 = vec4<f32>(0.0f);
  var acc4_0 = vec4<f32>(0.0f);
  var acc4_1 = vec4<f32>(0.0f);
  var acc5_0 = vec4<f32>(0.0f);
  var acc5_1 = vec4<f32>(0.0f);
  var acc6_0 = vec4<f32>(0.0f);
  var acc6_1 = vec4<f32>(0.0f);
  var acc7_0 = vec4<f32>(0.0f);
  var acc7_1 = vec4<f32>(0.0f);
  let ar0 = (aBase + (m0 + 0u) * 12u) / 4u;
  let ar1 = (aBase + (m0 + 1u) * 12u) / 4u;
  let ar2 = (aBase + (m0 + 2u) * 12u) / 4u;
  let ar3 = (aBase + (m0 + 3u) * 12u) / 4u;
  let ar4 = (aBase + (m0 + 4u) * 12u) / 4u;
  let ar5 = (aBase + (m0 + 5u) * 12u) / 4u;
  let ar6 = (aBase + (m0 + 6u) * 12u) / 4u;
  let ar7 = (aBase + (m0 + 7u) * 12u) / 4u;
  let bc0 = (bBase + (n0 + 0u) * 12u) / 4u;
  let bc1 = (bBase + (n0 + 1u) * 12u) / 4u;
  let bc2 = (bBase + (n0 + 2u) * 12u) / 4u;
  let bc3 = (bBase + (n0 + 3u) * 12u) / 4u;
  let bc4 = (bBase + (n0 + 4u) * 12u) / 4u;
  let bc5 = (bBase + (n0 + 5u) * 12u) / 4u;
  let bc6 = (bBase + (n0 + 6u) * 12u) / 4u;
  let bc7 = (bBase + (n0 + 7u) * 12u) / 4u;
  for (var kq = 0u; kq < 3u; kq++) {
    let a0 = a[ar0 + kq];
    let a1 = a[ar1 + kq];
    let a2 = a[ar2 + kq];
    let a3 = a[ar3 + kq];
    let a4 = a[ar4 + kq];
    let a5 = a[ar5 + kq];
    let a6 = a[ar6 + kq];
    let a7 = a[ar7 + kq];
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
    acc0_0 += bm0 * a0;
    acc0_1 += bm1 * a0;
    acc1_0 += bm0 * a1;
    acc1_1 += bm1 * a1;
    acc2_0 += bm0 * a2;
    acc2_1 += bm1 * a2;
    acc3_0 += bm0 * a3;
    acc3_1 += bm1 * a3;
    acc4_0 += bm0 * a4;
    acc4_1 += bm1 * a4;
    acc5_0 += bm0 * a5;
    acc5_1 += bm1 * a5;
    acc6_0 += bm0 * a6;
    acc6_1 += bm1 * a6;
    acc7_0 += bm0 * a7;
    acc7_1 += bm1 * a7;
  }
  let o0 = oBase + (m0 + 0u) * 16u + n0;
  out[(o0) / 4u] = acc0_0;
  out[(o0 + 4u) / 4u] = acc0_1;
  let o1 = oBase + (m0 + 1u) * 16u + n0;
  out[(o1) / 4u] = acc1_0;
  out[(o1 + 4u) / 4u] = acc1_1;
  let o2 = oBase + (m0 + 2u) * 16u + n0;
  out[(o2) / 4u] = acc2_0;
  out[(o2 + 4u) / 4u] = acc2_1;
  let o3 = oBase + (m0 + 3u) * 16u + n0;
  out[(o3) / 4u] = acc3_0;
  out[(o3 + 4u) / 4u] = acc3_1;
  let o4 = oBase + (m0 + 4u) * 16u + n0;
  out[(o4) / 4u] = acc4_0;
  out[(o4 + 4u) / 4u] = acc4_1;
  let o5 = oBase + (m0 + 5u) * 16u + n0;
  out[(o5) / 4u] = acc5_0;
  out[(o5 + 4u) / 4u] = acc5_1;
  let o6 = oBase + (m0 + 6u) * 16u + n0;
  out[(o6) / 4u] = acc6_0;
  out[(o6 + 4u) / 4u] = acc6_1;
  let o7 = oBase + (m0 + 7u) * 16u + n0;
  out[(o7) / 4u] = acc7_0;
  out[(o7 + 4u) / 4u] = acc7_1;
}
