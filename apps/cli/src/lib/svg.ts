/** Small SVG charts for the training report: line charts (loss, DSC by epoch) and bar charts (per patient). */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

export interface Series {
  name: string;
  points: [number, number][];
}

function niceTicks(lo: number, hi: number, n = 5, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = Math.max((hi - lo) / n, integer ? 1 : 0);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number) =>
  Math.abs(v) >= 100 || Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
const r1 = (v: number) => v.toFixed(1);

export function lineChart(
  title: string,
  xLabel: string,
  series: Series[],
  o: { yMin?: number; yMax?: number } = {},
): string {
  const W = 640;
  const H = 360;
  const m = { l: 60, r: 20, t: 36, b: 48 };
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  let x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  if (x1 === x0) x1 = x0 + 1;
  let y0 = o.yMin ?? (ys.length ? Math.min(...ys) : 0);
  let y1 = o.yMax ?? (ys.length ? Math.max(...ys) : 1);
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  if (x0 > 0 && x0 < 1) x0 = 0;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${r1(sy(t))}" y2="${r1(sy(t))}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${r1(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 8, true)) {
    parts.push(`<text x="${r1(sx(t))}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const p = s.points.filter(([, y]) => Number.isFinite(y));
    if (p.length > 1) {
      const d = p.map(([x, y], k) => `${k ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    }
    for (const [x, y] of p)
      parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"/>`);
    parts.push(
      `<rect x="${m.l + 10}" y="${m.t + 6 + i * 16}" width="12" height="3" fill="${c}"/>`,
      `<text x="${m.l + 28}" y="${m.t + 11 + i * 16}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Horizontal bars, one a label (e.g. per-patient DSC), values in [0, max]. */
export function barChart(title: string, bars: { label: string; value: number }[], max = 1): string {
  const W = 640;
  const row = 20;
  const m = { l: 200, r: 60, t: 36, b: 20 };
  const H = m.t + m.b + Math.max(1, bars.length) * row;
  const sx = (v: number) => m.l + (Math.max(0, Math.min(max, v)) / max) * (W - m.l - m.r);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = m.t + i * row;
    const v = Number.isFinite(b.value) ? b.value : 0;
    parts.push(
      `<text x="${m.l - 6}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${m.l}" y="${y + 3}" width="${(sx(v) - m.l).toFixed(1)}" height="${row - 6}" fill="${COLOURS[0]}"/>`,
      `<text x="${(sx(v) + 4).toFixed(1)}" y="${y + 14}">${Number.isFinite(b.value) ? b.value.toFixed(3) : String(b.value)}</text>`,
    );
  });
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="black"/>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
