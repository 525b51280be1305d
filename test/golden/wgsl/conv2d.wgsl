@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 200u) {
    return;
  }
  let c0 = (i / 100u);
  let c1 = (i / 20u) % 5u;
  let c2 = (i / 4u) % 5u;
  let c3 = i % 4u;
  var acc = 0.0f;
  for (var kh = 0; kh < 3; kh++) {
    let ih = i32(c1) * 2 + kh - 1;
    if (ih < 0 || ih >= 9) {
      continue;
    }
    for (var kw = 0; kw < 3; kw++) {
      let iw = i32(c2) * 2 + kw - 1;
      if (iw < 0 || iw >= 9) {
        continue;
      }
      let xb = ((c0 * 9u + u32(ih)) * 9u + u32(iw)) * 3u;
      let wb = (u32(kh) * 3u + u32(kw)) * 12u + c3;
      for (var c = 0u; c < 3u; c++) {
        acc += x[xb + c] * w[wb + c * 4u];
      }
    }
  }
  out[i] = acc;
}
