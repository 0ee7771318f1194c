// A book cover: the catalog's image (image_url) when covers are on in web/config.json
// and the image loads, over a generated placeholder (an SVG with the title and author,
// colored from the title) that is shown until then and stays when the image fails: hosts
// that are down, blocked or slow, and the 1x1 images some cover hosts send for a missing
// cover.

import { h, svg } from '../dom.js';
import { config } from '../config.js';

const PALETTE = ['#1d4e89', '#6b2d5c', '#2f6b3b', '#8a3b12', '#3d3b8e', '#0f5e63', '#7a2e2e', '#4a4a4a'];

function hash(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return x >>> 0;
}

// Up to maxLines lines of about width characters; the last one ends with an ellipsis
// when the text does not fit.
function wrap(text, width, maxLines) {
  const words = text.split(/\s+/).filter(Boolean);
  const lines = [];
  let line = '';
  for (const w of words) {
    const next = line ? `${line} ${w}` : w;
    if (next.length <= width || !line) {
      line = next;
    } else {
      lines.push(line);
      line = w;
    }
  }
  if (line) lines.push(line);
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] = `${lines[maxLines - 1].slice(0, width - 1)}…`;
  }
  return lines.map((l) => (l.length > width + 4 ? `${l.slice(0, width + 3)}…` : l));
}

export function placeholder(book) {
  const title = (book && book.title) || 'Untitled';
  const author = (book && book.author) || '';
  const color = PALETTE[hash(title) % PALETTE.length];
  const lines = wrap(title, 13, 5);
  const texts = lines.map((l, i) => svg('text', {
    x: 60, y: 46 + i * 17, 'text-anchor': 'middle', 'font-size': 14, 'font-weight': 700,
    fill: '#ffffff', 'font-family': 'Georgia, serif',
  }, l));
  const byline = author ? svg('text', {
    x: 60, y: 158, 'text-anchor': 'middle', 'font-size': 10, fill: '#f0f0f0',
    'font-family': 'system-ui, sans-serif',
  }, wrap(author, 20, 1)[0]) : null;
  return svg('svg', {
    class: 'cover-placeholder', viewBox: '0 0 120 180', 'aria-hidden': 'true', focusable: 'false',
    'data-placeholder': '',
  },
  svg('rect', { width: 120, height: 180, rx: 4, fill: color }),
  svg('rect', { x: 8, y: 8, width: 104, height: 164, rx: 2, fill: 'none', stroke: '#ffffff', 'stroke-opacity': 0.35 }),
  texts, byline);
}

function coverUrl(u) {
  if (typeof u !== 'string' || !/^https?:\/\//i.test(u)) return null;
  // On an https page an http image would be mixed content: ask for https instead.
  return location.protocol === 'https:' ? u.replace(/^http:/i, 'https:') : u;
}

// size: 'small' (lists) or 'large' (the book page, where the cover gets an alt text).
export function cover(book, size = 'small') {
  const label = size === 'large' ? `Cover of ${(book && book.title) || 'this book'}` : null;
  const el = h('div', { class: `cover cover-${size}`, role: label ? 'img' : null, 'aria-label': label },
    placeholder(book));
  const src = config.covers ? coverUrl(book && book.image_url) : null;
  if (src) {
    const img = h('img', {
      class: 'cover-img', src, alt: '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer',
    });
    img.addEventListener('load', () => {
      if (img.naturalWidth > 1 && img.naturalHeight > 1) el.classList.add('has-image');
      else img.remove();
    });
    img.addEventListener('error', () => img.remove());
    el.append(img);
  }
  return el;
}
