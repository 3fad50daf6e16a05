// The service's web page: an image in, its captions out, and each word's attention map drawn
// over the image. Talks to POST /caption?attention=1 (see the README's "Caption service").
'use strict';

const $ = (id) => document.getElementById(id);
const state = { file: null, bitmap: null, captions: [], selected: -1 };

function authHeaders() {
  const token = $('token').value || localStorage.getItem('captioner-token') || '';
  return token ? { Authorization: 'Bearer ' + token } : {};
}

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : 'muted';
}

function showModeControls() {
  const mode = $('mode').value;
  $('temperature-box').hidden = mode !== 'sample';
  $('samples-box').hidden = mode !== 'sample';
  $('beam-box').hidden = mode !== 'beam';
}

function query() {
  const mode = $('mode').value;
  const q = new URLSearchParams({ attention: '1' });
  if (mode === 'sample') {
    q.set('temperature', $('temperature').value);
    q.set('n', $('samples').value);
  } else if (mode === 'beam') {
    q.set('beam_width', $('beam').value);
    q.set('n', $('beam').value);
  }
  return q;
}

// Weight 0..1 to a colour: dark blue through green to yellow, like the desktop app's maps.
function colour(t) {
  const stops = [[48, 18, 59], [40, 120, 190], [30, 190, 110], [250, 230, 40]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

function draw() {
  const canvas = $('view');
  const bitmap = state.bitmap;
  if (!bitmap) return;
  const scale = Math.min(1, 760 / bitmap.width, 560 / bitmap.height);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext('2d');
  ctx.globalAlpha = 1;
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const caption = state.captions[0];
  const word = caption && caption.words && caption.words[state.selected];
  if (!word || !word.attention) return;
  const side = Math.round(Math.sqrt(word.attention.length));
  const max = Math.max(...word.attention) || 1;
  const grid = document.createElement('canvas');
  grid.width = grid.height = side;
  const cells = grid.getContext('2d').createImageData(side, side);
  word.attention.forEach((w, i) => {
    const [r, g, b] = colour(w / max);
    cells.data.set([r, g, b, 255], i * 4);
  });
  grid.getContext('2d').putImageData(cells, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.globalAlpha = 0.6;
  ctx.drawImage(grid, 0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
}

function select(index) {
  state.selected = index;
  document.querySelectorAll('#words button').forEach((b, i) => {
    b.setAttribute('aria-pressed', String(i === index));
    if (i === index) b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  });
  draw();
}

function render() {
  const [best, ...others] = state.captions;
  $('caption').textContent = best ? best.generated_text : '';
  const words = $('words');
  words.replaceChildren();
  ((best && best.words) || []).forEach((w, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = w.word;
    const p = document.createElement('small');
    p.textContent = Math.round(w.probability * 100) + '%';
    b.append(p);
    b.title = w.attention ? 'Show where the model looked for "' + w.word + '"' : 'This model has no attention maps';
    b.addEventListener('click', () => select(i));
    words.append(b);
  });
  const list = $('others');
  list.replaceChildren(...others.map((c) => {
    const li = document.createElement('li');
    li.textContent = c.generated_text;
    return li;
  }));
  select(-1);
}

async function caption() {
  if (!state.file) return;
  $('again').disabled = true;
  setStatus('Captioning…');
  try {
    const response = await fetch('/caption?' + query(), {
      method: 'POST',
      headers: { 'Content-Type': state.file.type || 'application/octet-stream', ...authHeaders() },
      body: state.file,
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401) $('token-box').hidden = false;
      const message = answer && answer.error ? answer.error.message : response.statusText;
      throw new Error(message);
    }
    state.captions = Array.isArray(answer) ? answer : [answer];  // one caption: an object; several: a list
    render();
    setStatus(state.captions[0] && state.captions[0].words && state.captions[0].words[0] &&
              state.captions[0].words[0].attention ? 'Click a word to see where the model looked.' : '');
  } catch (e) {
    state.captions = [];
    render();
    setStatus('Could not caption ' + (state.file.name || 'the image') + ': ' + e.message, true);
  } finally {
    $('again').disabled = false;
  }
}

async function open(file) {
  if (!file) return;
  state.file = file;
  try {
    state.bitmap = await createImageBitmap(file);  // honours EXIF orientation, as the server does
    $('view').hidden = false;
    $('hint').hidden = true;
  } catch (e) {
    state.bitmap = null;  // the browser cannot show it; the server still says why it cannot read it
  }
  draw();
  await caption();
}

$('file').addEventListener('change', (e) => open(e.target.files[0]));
$('mode').addEventListener('change', () => { showModeControls(); caption(); });
$('again').addEventListener('click', caption);
$('token').addEventListener('change', () => { localStorage.setItem('captioner-token', $('token').value); caption(); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  open(e.dataTransfer.files[0]);
});
document.addEventListener('paste', (e) => {
  const item = [...e.clipboardData.items].find((i) => i.type.startsWith('image/'));
  if (item) open(item.getAsFile());
});
document.addEventListener('keydown', (e) => {
  const count = $('words').children.length;
  if (!count || e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
  if (e.key === 'ArrowRight') select(Math.min(state.selected + 1, count - 1));
  else if (e.key === 'ArrowLeft') select(Math.max(state.selected - 1, 0));
  else return;
  e.preventDefault();
});

showModeControls();
fetch('/healthz').then((r) => r.json()).then((h) => { $('model').textContent = 'model: ' + h.model; })
  .catch(() => { $('model').textContent = 'the server does not answer'; });
