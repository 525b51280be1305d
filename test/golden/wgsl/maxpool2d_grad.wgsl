@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x * 64u + lid;
  if (i >= 486u) {
    return;
  }
  let c0 = (i / 243u);
  let c1 = (i / 27u) % 9u;
  let c2 = (i / 3u) % 9u;
  let c3 = i % 3u;
  let ph = i32(c1);
  let pw = i32(c2);
  var acc = 0.0f;
  for (var kh = 0; kh < 2; kh++) {
    let toh = ph + 0 - kh;
    if (toh < 0 || toh % 2 != 0) {
      continue;
    }
    let oh = toh / 2;
    if (oh >= 5) {
      continue;
    }
    for (var kw = 0; kw < 2; kw++) {
      let tow = pw + 0 - kw;
      if (tow < 0 || tow % 2 != 0) {
        continue;
      }
      let ow = tow / 2;
      if (ow >= 5) {
        continue;
      }
      let h0 = max(oh * 2 - 0, 0);
      let h1 = min(oh * 2 - 0 + 2, 9);
      let w0 = max(ow * 2 - 0, 0);
      let w1 = min(ow * 2 - 0 + 2, 9);
      var m = 0.0f;
      var bh = -1;
      var bw = -1;
      for (var h = h0; h < h1; h++) {
        for (var w = w0; w < w1; w++) {
          let v = x[((c0 * 9u + u32(h)) * 9u + u32(w)) * 3u + c3];
          if (bh < 0 || v > m) {
            m = v;
            bh = h;
            bw = w;
          }
        }
      }
      if (bh == ph && bw == pw) {
        acc += dy[((c0 * 5u + u32(oh)) * 5u + u32(ow)) * 3u + c3];
      }
    }
  }
  out[i] = acc;
}
