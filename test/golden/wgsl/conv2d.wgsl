@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 8u + lid;
  if (i >= 10u) {
    return;
  }
  let fb = i % 1u;
  let pb = (i / 1u) % 1u;
  let row = i / 1u;
  let n = row / 5u;
  let oh = i32(row % 5u);
  let f0 = fb * 4u;
  let ow0 = i32(pb * 5u);
  var a0_0 = vec4<f32>(0);
  var a1_0 = vec4<f32>(0);
  var a2_0 = vec4<f32>(0);
  var a3_0 = vec4<f32>(0);
  var a4_0 = vec4<f32>(0);
  let fq0 = f0 / 4u + 0u;
  let iw0 = ow0 * 2 - 1;
  let ok0 = iw0 >= 0 && iw0 < 9;
  let iw1 = ow0 * 2 + 0;
  let ok1 = iw1 >= 0 && iw1 < 9;
  let iw2 = ow0 * 2 + 1;
  let ok2 = iw2 >= 0 && iw2 < 9;
  let iw3 = ow0 * 2 + 2;
  let ok3 = iw3 >= 0 && iw3 < 9;
  let iw4 = ow0 * 2 + 3;
  let ok4 = iw4 >= 0 && iw4 < 9;
  let iw5 = ow0 * 2 + 4;
  let ok5 = iw5 >= 0 && iw5 < 9;
  let iw6 = ow0 * 2 + 5;
  let ok6 = iw6 >= 0 && iw6 < 9;
  let iw7 = ow0 * 2 + 6;
  let ok7 = iw7 >= 0 && iw7 < 9;
  let iw8 = ow0 * 2 + 7;
  let ok8 = iw8 >= 0 && iw8 < 9;
  let iw9 = ow0 * 2 + 8;
  let ok9 = iw9 >= 0 && iw9 < 9;
  let iw10 = ow0 * 2 + 9;
  let ok10 = iw10 >= 0 && iw10 < 9;
  for (var kh = 0; kh < 3; kh++) {
    let ih = oh * 2 + kh - 1;
    if (ih < 0 || ih >= 9) {
      continue;
    }
    let xr = (n * 9u + u32(ih)) * 9u;
    let tb = u32(kh * 3) * 3u;
    for (var c = 0u; c < 3u; c++) {
      let wb = (tb + c * 1u) * 1u;
      let x0 = select(f32(0), x[select(0u, (xr + u32(iw0)) * 3u + c, ok0)], ok0);
      let x1 = select(f32(0), x[select(0u, (xr + u32(iw1)) * 3u + c, ok1)], ok1);
      let x2 = select(f32(0), x[select(0u, (xr + u32(iw2)) * 3u + c, ok2)], ok2);
      let x3 = select(f32(0), x[select(0u, (xr + u32(iw3)) * 3u + c, ok3)], ok3);
      let x4 = select(f32(0), x[select(0u, (xr + u32(iw4)) * 3u + c, ok4)], ok4);
      let x5 = select(f32(0), x[select(0u, (xr + u32(iw5)) * 3u + c, ok5)], ok5);
      let x6 = select(f32(0), x[select(0u, (xr + u32(iw6)) * 3u + c, ok6)], ok6);
      let x7 = select(f32(0), x[select(0u, (xr + u32(iw7)) * 3u + c, ok7)], ok7);
      let x8 = select(f32(0), x[select(0u, (xr + u32(iw8)) * 3u + c, ok8)], ok8);
      let x9 = select(f32(0), x[select(0u, (xr + u32(iw9)) * 3u + c, ok9)], ok9);
      let x10 = select(f32(0), x[select(0u, (xr + u32(iw10)) * 3u + c, ok10)], ok10);
      let k0w0_0 = w[wb + 0u + 0u + fq0];
      a0_0 += x0 * k0w0_0;
      a1_0 += x2 * k0w0_0;
      a2_0 += x4 * k0w0_0;
      a3_0 += x6 * k0w0_0;
      a4_0 += x8 * k0w0_0;
      let k1w0_0 = w[wb + 3u + 0u + fq0];
      a0_0 += x1 * k1w0_0;
      a1_0 += x3 * k1w0_0;
      a2_0 += x5 * k1w0_0;
      a3_0 += x7 * k1w0_0;
      a4_0 += x9 * k1w0_0;
      let k2w0_0 = w[wb + 6u + 0u + fq0];
      a0_0 += x2 * k2w0_0;
      a1_0 += x4 * k2w0_0;
      a2_0 += x6 * k2w0_0;
      a3_0 += x8 * k2w0_0;
      a4_0 += x10 * k2w0_0;
    }
  }
  let ob0 = (row * 5u + u32(ow0 + 0)) * 4u + f0;
  out[(ob0 + 0u) / 4u] = a0_0;
  let ob1 = (row * 5u + u32(ow0 + 1)) * 4u + f0;
  out[(ob1 + 0u) / 4u] = a1_0;
  let ob2 = (row * 5u + u32(ow0 + 2)) * 4u + f0;
  out[(ob2 + 0u) / 4u] = a2_0;
  let ob3 = (row * 5u + u32(ow0 + 3)) * 4u + f0;
  out[(ob3 + 0u) / 4u] = a3_0;
  let ob4 = (row * 5u + u32(ow0 + 4)) * 4u + f0;
  out[(ob4 + 0u) / 4u] = a4_0;
}
