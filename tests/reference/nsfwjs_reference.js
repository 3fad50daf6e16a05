// Development-time reference for tests/data/nsfwjs_reference.json: nsfwjs 4.4.0's Inception-v3
// run by pure-JS TensorFlow.js (cpu backend, about 15 s per image), never by the product.
//   npm install @tensorflow/tfjs@4   (in a scratch folder)
//   node nsfwjs_reference.js MODEL_DIR IMAGE.rgb:H:W ... > nsfwjs_reference.json
// MODEL_DIR is nsfwjs's dist/models/inception_v3; IMAGE.rgb is the raw 8-bit RGB pixels of a test
// image (the PNGs in tests/data/images, decoded losslessly), H and W its size.
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');
async function main() {
  await tf.setBackend('cpu');
  const dir = process.argv[2];
  const model = require(path.join(dir, 'model.min.js'));
  const shards = model.weightsManifest[0].paths.map(p => Buffer.from(require(path.join(dir, p + '.min.js')), 'base64'));
  const data = Buffer.concat(shards);
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const net = await tf.loadLayersModel(tf.io.fromMemory({modelTopology: model.modelTopology, weightSpecs: model.weightsManifest[0].weights, weightData}));
  const probe = tf.model({inputs: net.inputs, outputs: [net.getLayer('flatten_1').output, net.outputs[0]]});
  const out = [];
  for (const spec of process.argv.slice(3)) {
    const [file, h, w] = spec.split(':');
    const pixels = new Uint8Array(fs.readFileSync(file));
    // nsfwjs's own preprocessing: bilinear resize with align-corners to 299x299, then / 255.
    const img = tf.tensor3d(pixels, [Number(h), Number(w), 3], 'int32');
    const x = tf.image.resizeBilinear(img, [299, 299], true).toFloat().div(255).expandDims(0);
    const [pooled, probs] = probe.predict(x);  // flatten_1 = the 2048-d pooled vector
    out.push({image: path.basename(file, '.rgb'), probs: Array.from(await probs.data()), pooled: Array.from(await pooled.data())});
    process.stderr.write(`${file}: ${Array.from(await probs.data()).map(v => v.toFixed(4)).join(' ')}\n`);
  }
  console.log(JSON.stringify({source: 'nsfwjs@4.4.0 inception_v3, @tensorflow/tfjs cpu backend', classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'], images: out}));
}
main();
