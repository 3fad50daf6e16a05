// The official JavaScript clients, unmodified, against a running `captioner serve` (test_serve
// starts it with a token and runs this): OpenAI's SDK (models, chat completions greedy, n > 1,
// sampled with a seed, with logprobs, streamed with usage, typed errors) and Hugging Face's
// InferenceClient (image-to-text with and without parameters, chat completion).
//   node clients_test.mjs BASE_URL TOKEN IMAGE MODEL_ID EXPECTED_CAPTION
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { InferenceClient } from '@huggingface/inference';

const [base, token, imagePath, modelId, expected] = process.argv.slice(2);
const image = readFileSync(imagePath);
const dataUrl = 'data:image/png;base64,' + image.toString('base64');
const messages = [{ role: 'user', content: [{ type: 'text', text: 'Describe the image.' },
                                            { type: 'image_url', image_url: { url: dataUrl } }] }];
const checks = [];
async function check(name, fn) {
  await fn();
  checks.push(name);
}

const openai = new OpenAI({ baseURL: base + 'v1', apiKey: token, maxRetries: 0 });
await check('openai models.list', async () => {
  const ids = [];
  for await (const model of openai.models.list()) ids.push(model.id);
  assert.deepEqual(ids, [modelId]);
});
await check('openai models.retrieve', async () => {
  assert.equal((await openai.models.retrieve(modelId)).id, modelId);
  await assert.rejects(openai.models.retrieve('no-such-model'), (e) => e instanceof OpenAI.NotFoundError);
});
await check('openai chat greedy', async () => {
  const r = await openai.chat.completions.create({ model: modelId, messages });
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.content, expected);
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens > 0);
});
await check('openai chat n=3 and a generous max_tokens', async () => {
  const r = await openai.chat.completions.create({ model: modelId, messages, n: 3, max_tokens: 4096 });
  assert.equal(r.choices.length, 3);
  assert.ok(r.choices.every((c) => c.message.content.length > 0 && ['stop', 'length'].includes(c.finish_reason)));
});
await check('openai chat sampled with a seed', async () => {
  const ask = () => openai.chat.completions.create({ model: modelId, messages, temperature: 1.2, seed: 7, n: 2 });
  const [a, b] = [await ask(), await ask()];
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});
await check('openai chat logprobs', async () => {
  const r = await openai.chat.completions.create({ model: modelId, messages, logprobs: true, top_logprobs: 2 });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.map((t) => t.token).join(' '), expected);
  // Greedy: each word is the likeliest of its two alternatives.
  assert.ok(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 2 && t.top_logprobs[0].token === t.token));
});
await check('openai chat streamed with usage and logprobs', async () => {
  const stream = await openai.chat.completions.create({ model: modelId, messages, stream: true, logprobs: true,
                                                        stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  const tokens = [];
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    for (const t of chunk.choices[0]?.logprobs?.content ?? []) tokens.push(t.token);
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, expected);
  assert.equal(tokens.join(' '), expected);
  assert.ok(usage && usage.completion_tokens > 0);
});
await check('openai typed errors', async () => {
  const bad = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,aGVsbG8=' } }] }];
  await assert.rejects(openai.chat.completions.create({ model: modelId, messages: bad }),
                       (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.code === 'bad_image');
  await assert.rejects(openai.chat.completions.create({ model: modelId, messages, n: 99 }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  const stranger = new OpenAI({ baseURL: base + 'v1', apiKey: 'wrong-key', maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

const hf = new InferenceClient(token);
await check('huggingface imageToText', async () => {
  const r = await hf.imageToText({ endpointUrl: base + 'caption', data: new Blob([image]) });
  assert.equal(r.generated_text, expected);
});
await check('huggingface chatCompletion', async () => {
  const r = await hf.chatCompletion({ endpointUrl: base + 'v1', model: modelId, messages });
  assert.equal(r.choices[0].message.content, expected);
});
console.log(`clients: ${checks.length} checks passed:\n  ${checks.join('\n  ')}`);
